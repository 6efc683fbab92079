"""A signed-in person's session with one server profile: ESh, VK ID and Sferum, no Qt.

`AuthSession` owns the three API clients of a profile and the tokens they need:

- sign-in with an ESh password or through ESIA («Войти через госуслуги», PKCE), or restore a
  remembered session from the keyring without the password;
- tokens refreshed proactively shortly before they expire (a background task), and once on
  HTTP 401 (ESh) or error 5 (Sferum); `api.tokens.TokenKeeper` keeps a single refresh in
  flight, since refresh tokens rotate and a reused one revokes the session;
- every new token is written to the keyring (`auth.vault`) and nowhere else;
- when a refresh is refused the session ends with a typed event (`SessionEnded`, or
  `SferumSignInNeeded` for the VK ID tokens), which the UI turns into a return to sign-in;
- `LinkingFlow`: «Привязать аккаунт к Сферум» — VK ID sign-in (PKCE, `state` checked, the
  code exchanged at once), the profile for «Проверьте свои личные данные», then ESh
  `POST /links`;
- `sign_out()` ends the ESh session and the VK ID tokens on the servers and wipes the
  profile's keyring entries and cached personal data.

Nothing here logs a token, a code or a person's name.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

from sferum_desktop import paths
from sferum_desktop.api.errors import (
    ESH,
    VKID,
    ApiError,
    NetworkError,
    RateLimited,
    ServerError,
    SessionExpired,
)
from sferum_desktop.api.esh import EshClient
from sferum_desktop.api.esh_models import EshTokens, Link, Me
from sferum_desktop.api.pkce import AuthorizationFailed, PkceRequest, parse_redirect
from sferum_desktop.api.sferum import ActiveCall, Conversation, SferumClient
from sferum_desktop.api.tokens import BearerTokens, TokenKeeper
from sferum_desktop.api.vkid import (
    RefreshRejected,
    SignInRequest,
    VkIdClient,
    VkIdTokens,
    VkIdUser,
    is_redirect,
    validate_redirect,
)
from sferum_desktop.auth.loopback import LoopbackReceiver
from sferum_desktop.auth.profiles import ServerProfile
from sferum_desktop.auth.vault import Vault

log = logging.getLogger("sferum_desktop.auth.session")

# Redirect URIs caught inside the embedded web view: never loaded, so no port is needed.
ESIA_REDIRECT_URI: Final = "http://127.0.0.1/esia/callback"
VKID_REDIRECT_URI: Final = "http://127.0.0.1/vkid/callback"

# When a proactive refresh fails for a transient reason, try again after this long.
_RETRY_REFRESH_S: Final = 30.0
# The watcher wakes at least this often to look at the tokens again.
_MAX_WATCH_SLEEP_S: Final = 300.0

SESSION_ENDED_MESSAGE: Final = (
    "Сеанс работы в ЭШ истёк или был прерван. Войдите снова, чтобы продолжить."
)
SFERUM_ENDED_MESSAGE: Final = "Вход в Сферум истёк. Войдите через VK ID ещё раз."
RESTORE_EXPIRED_MESSAGE: Final = "Сохранённый вход истёк. Войдите снова."


# --- events for the UI ----------------------------------------------------------------------


@dataclass(frozen=True)
class SessionEnded:
    """The ESh session could not be renewed: the UI returns to sign-in with `message`."""

    message: str


@dataclass(frozen=True)
class SferumSignInNeeded:
    """The VK ID tokens were refused: the Сферум tab asks for a VK ID sign-in again."""

    message: str


@dataclass(frozen=True)
class LinkChanged:
    """The person's ESh ↔ Sferum link changed (`me.link` is current)."""

    me: Me


SessionEvent = SessionEnded | SferumSignInNeeded | LinkChanged
EventSink = Callable[[SessionEvent], object]


class NoEduProfile(ApiError):
    """The VK ID account has no educational profile, so it cannot be linked."""

    default_message = (
        "У этого аккаунта VK ID нет учебного профиля. Войдите ещё раз и создайте учебный профиль."
    )


class SferumNotSignedIn(ApiError):
    """No VK ID tokens for this person on this computer: sign in to Sferum first."""

    default_message = "Войдите в Сферум через VK ID, чтобы увидеть чаты и видеоконференции."


class VkIdNotConfigured(ApiError):
    """The server profile names no VK ID application, so linking cannot start."""

    default_message = (
        "В профиле сервера не указан идентификатор приложения VK ID (vkid_client_id). "
        "Обратитесь к администратору."
    )


@dataclass(frozen=True)
class RestoreResult:
    """A remembered session: the person when it worked, else why not (Russian, or None)."""

    me: Me | None
    message: str | None = None


@dataclass(frozen=True)
class OAuthRequest:
    """One «Войти через госуслуги» attempt: the page, its redirect and in-memory PKCE."""

    url: str = field(repr=False)
    redirect_uri: str
    pkce: PkceRequest = field(repr=False)

    def is_redirect(self, url: str) -> bool:
        return is_redirect(url, self.redirect_uri)


@dataclass(frozen=True)
class ChatSummary:
    """A row of the «Сферум» tab: a chat, its last message and unread count."""

    chat_id: int | None
    title: str
    last_message: str
    last_date: datetime | None
    unread: int
    outgoing: bool = False


@dataclass(frozen=True)
class CallSummary:
    """A video conference the person can join."""

    call_id: str
    name: str
    join_link: str
    started_at: datetime | None


@dataclass(frozen=True)
class SferumOverview:
    """What the «Сферум» tab shows."""

    chats: list[ChatSummary]
    calls: list[CallSummary]

    @property
    def unread(self) -> int:
        return sum(chat.unread for chat in self.chats)


_ACTIONS: Final = {
    "chat_create": "Чат создан",
    "chat_invite_user": "Добавлен участник",
    "chat_invite_user_by_link": "Участник вошёл по ссылке",
    "chat_kick_user": "Участник исключён",
    "chat_title_update": "Название чата изменено",
    "chat_photo_update": "Фото чата изменено",
}


def summarize(conversation: Conversation) -> ChatSummary:
    """A conversation as the «Сферум» tab lists it (service messages in words)."""
    message = conversation.last_message
    text = ""
    if message is not None:
        text = message.text.strip()
        if not text and message.action:
            text = _ACTIONS.get(str(message.action.get("type")), "Служебное сообщение")
        elif not text:
            text = "Вложение"
    return ChatSummary(
        chat_id=conversation.chat_id,
        title=conversation.title or "Без названия",
        last_message=" ".join(text.split()),
        last_date=message.date if message else None,
        unread=conversation.unread_count,
        outgoing=bool(message.out) if message else False,
    )


def _call(call: ActiveCall) -> CallSummary:
    return CallSummary(
        call_id=call.call_id,
        name=call.name or "Видеоконференция",
        join_link=call.join_link,
        started_at=call.started_at,
    )


@dataclass
class _VkSession:
    """The person's VK ID tokens (the Sferum token) and what refreshing them needs."""

    keeper: TokenKeeper
    device_id: str = field(repr=False)
    user_id: int
    person_id: str


class AuthSession:
    """One person's session with one server profile; create one per sign-in attempt."""

    def __init__(
        self,
        profile: ServerProfile,
        vault: Vault,
        *,
        on_event: EventSink | None = None,
        proactive: bool = True,
    ) -> None:
        self.profile = profile
        self.vault = vault
        self.on_event = on_event
        self.proactive = proactive
        self.me: Me | None = None
        self.esh = EshClient(
            profile.esh_url,
            verify=profile.verify,
            proxy=profile.proxy,
            on_tokens_changed=self._esh_tokens_changed,
        )
        self.vkid = VkIdClient(
            profile.vkid_url, profile.vkid_client_id, verify=profile.verify, proxy=profile.proxy
        )
        self._vk: _VkSession | None = None
        self._sferum: SferumClient | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._quiet = False  # True while signing out or restoring: no "ended" events
        self._closed = False

    def __repr__(self) -> str:
        return f"AuthSession({self.profile.name!r}, signed_in={self.signed_in})"

    # --- state --------------------------------------------------------------------------

    @property
    def signed_in(self) -> bool:
        return self.me is not None and self.esh.tokens is not None

    @property
    def has_sferum(self) -> bool:
        """Whether this person's VK ID (Sferum) tokens are at hand."""
        return self._vk is not None and self._vk.keeper.tokens is not None

    @property
    def vk_tokens(self) -> BearerTokens | None:
        return self._vk.keeper.tokens if self._vk else None

    @property
    def refresh_count(self) -> int:
        """Refreshes made for ESh and VK ID together (diagnostics and tests)."""
        vk = self._vk.keeper.refresh_count if self._vk else 0
        return self.esh.refresh_count + vk

    def _emit(self, event: SessionEvent) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(event)
        except Exception:
            log.exception("a session event handler failed")

    # --- sign-in ----------------------------------------------------------------------------

    async def sign_in(self, username: str, password: str) -> Me:
        """Sign in with an ESh username and password (typed errors for every refusal)."""
        session = await self.esh.login(username.strip(), password)
        return await self._signed_in(session.me)

    def begin_esia(self, redirect_uri: str = ESIA_REDIRECT_URI) -> OAuthRequest:
        """A new «Войти через госуслуги» request with fresh PKCE secrets."""
        pkce = PkceRequest()
        url = self.esh.esia_authorize_url(
            self.profile.esia_client_id, redirect_uri, pkce.state, pkce.challenge
        )
        return OAuthRequest(url=url, redirect_uri=redirect_uri, pkce=pkce)

    async def finish_esia(self, request: OAuthRequest, redirect_url: str) -> Me:
        """Check the caught redirect's `state` and exchange its code at once."""
        code = parse_redirect(redirect_url, request.pkce.state, service=ESH)
        session = await self.esh.esia_exchange(code, request.pkce.verifier, request.redirect_uri)
        return await self._signed_in(session.me)

    def password_reset_url(self) -> str:
        """The «Забыли пароль?» page of this profile's ESh."""
        return self.esh.password_reset_url()

    async def restore(self) -> RestoreResult:
        """Resume the session remembered in the keyring, without the password."""
        blob = await self.vault.load(self.profile.key, "esh")
        if not blob:
            return RestoreResult(None)
        try:
            tokens = EshTokens.from_dict(blob["tokens"])
        except (KeyError, TypeError, ValueError):
            await self.vault.delete(self.profile.key, "esh")
            return RestoreResult(None)
        await self.esh.set_tokens(tokens)
        self._quiet = True
        try:
            me = await self.esh.me()
        except SessionExpired:
            await self.vault.delete(self.profile.key, "esh")
            return RestoreResult(None, RESTORE_EXPIRED_MESSAGE)
        except ApiError as exc:
            # The server is unreachable or refused: keep the entry for the next start.
            await self.esh.set_tokens(None)
            log.info("the remembered session could not be resumed: %s", type(exc).__name__)
            return RestoreResult(None, exc.user_message)
        finally:
            self._quiet = False
        log.info("remembered session resumed")
        return RestoreResult(await self._signed_in(me))

    async def _signed_in(self, me: Me) -> Me:
        self.me = me
        await self._load_vk()
        self._start_watcher()
        return me

    async def reload_me(self) -> Me:
        """Ask ESh who is signed in again (after linking, or to refresh the start page)."""
        self.me = await self.esh.me()
        return self.me

    # --- tokens -----------------------------------------------------------------------------

    async def _esh_tokens_changed(self, tokens: BearerTokens | None) -> None:
        key = self.profile.key
        if tokens is not None:
            await self.vault.save(key, "esh", {"tokens": tokens.to_dict()})
            self._wake.set()
            return
        await self.vault.delete(key, "esh")
        if self._quiet or self._closed:
            return
        log.info("the ESh session ended (refresh refused)")
        self.me = None
        self._stop_watcher()
        self._emit(SessionEnded(SESSION_ENDED_MESSAGE))

    async def _vk_tokens_changed(self, tokens: BearerTokens | None) -> None:
        vk = self._vk
        if vk is None:
            return
        if tokens is not None:
            await self._save_vk(vk, tokens)
            if self._sferum is not None:
                self._sferum.set_token(tokens.access_token)
            self._wake.set()
            return
        await self.vault.delete(self.profile.key, "vkid")
        if self._quiet or self._closed:
            return
        log.info("the VK ID tokens ended (refresh refused)")
        self._vk = None
        await self._drop_sferum()
        self._emit(SferumSignInNeeded(SFERUM_ENDED_MESSAGE))

    async def _save_vk(self, vk: _VkSession, tokens: BearerTokens) -> None:
        await self.vault.save(
            self.profile.key,
            "vkid",
            {
                "tokens": tokens.to_dict(),
                "device_id": vk.device_id,
                "user_id": vk.user_id,
                "person_id": vk.person_id,
            },
        )

    def _install_vk(
        self, tokens: BearerTokens, device_id: str, user_id: int, person_id: str
    ) -> _VkSession:
        keeper = TokenKeeper(
            self.vkid.refresher(device_id),
            tokens=tokens,
            on_change=self._vk_tokens_changed,
            service=VKID,
            logger=log,
        )
        self._vk = _VkSession(keeper, device_id, user_id, person_id)
        return self._vk

    async def _load_vk(self) -> None:
        """This person's VK ID tokens from the keyring; someone else's are ended and dropped."""
        assert self.me is not None
        blob = await self.vault.load(self.profile.key, "vkid")
        if not blob:
            return
        try:
            tokens = BearerTokens.from_dict(blob["tokens"])
            device_id = str(blob["device_id"])
            user_id = int(blob["user_id"])
            person_id = str(blob["person_id"])
        except (KeyError, TypeError, ValueError):
            await self.vault.delete(self.profile.key, "vkid")
            return
        if person_id != self.me.id:
            # Left behind by someone who did not sign out: end it, it must not be used here.
            await self.vault.delete(self.profile.key, "vkid")
            with contextlib.suppress(ApiError):
                await self.vkid.logout(tokens.access_token)
            return
        self._install_vk(tokens, device_id, user_id, person_id)

    async def _fresh_vk_token(self) -> str:
        """A new Sferum token after error 5: one VK ID refresh for every waiting call."""
        vk = self._vk
        if vk is None or vk.keeper.tokens is None:
            raise RefreshRejected(service=VKID, reason="no VK ID session")
        fresh = await vk.keeper.refreshed(vk.keeper.tokens)
        return fresh.access_token

    async def refresh_now(self) -> None:
        """Refresh every token that is due (the watcher's step; also for the UI and tests)."""
        tokens = self.esh.tokens
        if tokens is not None and tokens.needs_refresh():
            await self.esh.refresh()
        vk = self._vk
        if vk is not None:
            await vk.keeper.current()

    async def refresh_all(self) -> None:
        """Refresh the ESh and VK ID tokens now, due or not."""
        await self.esh.refresh()
        vk = self._vk
        if vk is not None and vk.keeper.tokens is not None:
            await vk.keeper.refreshed(vk.keeper.tokens)

    def _next_refresh_in(self) -> float:
        due = [_MAX_WATCH_SLEEP_S]
        if self.esh.tokens is not None:
            due.append(self.esh.tokens.refresh_due_in())
        if self._vk is not None and self._vk.keeper.tokens is not None:
            due.append(self._vk.keeper.tokens.refresh_due_in())
        return max(0.0, min(due))

    def _start_watcher(self) -> None:
        if self.proactive and self._watcher is None:
            self._watcher = asyncio.get_running_loop().create_task(
                self._watch(), name="sferum_desktop.auth.session.watch"
            )

    def _stop_watcher(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None and watcher is not asyncio.current_task():
            watcher.cancel()

    async def _watch(self) -> None:
        """Refresh tokens shortly before they expire, so no call waits for a refresh."""
        delay = self._next_refresh_in()
        while self.esh.tokens is not None:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            try:
                await self.refresh_now()
            except SessionExpired:
                pass  # the token callbacks have ended the session and told the UI
            except (NetworkError, ServerError, RateLimited) as exc:
                log.warning("proactive refresh failed (%s); retrying later", type(exc).__name__)
                delay = min(_RETRY_REFRESH_S, max(1.0, self._next_refresh_in()))
                continue
            except ApiError:
                log.exception("proactive refresh failed")
            delay = self._next_refresh_in()

    # --- linking and Sferum -----------------------------------------------------------------

    def begin_linking(self) -> LinkingFlow:
        """A «Привязать аккаунт к Сферум» / «Авторизация в Сферум» attempt."""
        if not self.profile.vkid_client_id:
            raise VkIdNotConfigured(service=VKID, reason="no vkid_client_id in the profile")
        return LinkingFlow(self)

    async def _linked(self, tokens: VkIdTokens, device_id: str) -> Me:
        """After ESh accepted the link: keep the VK ID tokens for Sferum, reload the person."""
        assert self.me is not None
        old = self._vk
        await self._drop_sferum()
        vk = self._install_vk(tokens.bearer(), device_id, tokens.user_id, self.me.id)
        await self._save_vk(vk, tokens.bearer())
        if old is not None and old.keeper.tokens is not None:
            with contextlib.suppress(ApiError):
                await self.vkid.logout(old.keeper.tokens.access_token)
        self._wake.set()
        me = await self.reload_me()
        self._emit(LinkChanged(me))
        return me

    async def _sferum_client(self) -> SferumClient:
        vk = self._vk
        if vk is None or vk.keeper.tokens is None:
            raise SferumNotSignedIn(service=VKID, reason="no VK ID tokens")
        tokens = await vk.keeper.current()  # refreshed first when about to expire
        if self._sferum is None:
            self._sferum = SferumClient(
                self.profile.sferum_url,
                tokens.access_token,
                on_token_expired=self._fresh_vk_token,
                verify=self.profile.verify,
                proxy=self.profile.proxy,
            )
        else:
            self._sferum.set_token(tokens.access_token)
        return self._sferum

    async def sferum_client(self) -> SferumClient:
        """This person's Sferum client (tokens refreshed on error 5), e.g. for the sync."""
        return await self._sferum_client()

    async def _drop_sferum(self) -> None:
        client, self._sferum = self._sferum, None
        if client is not None:
            await client.aclose()

    async def sferum_overview(self) -> SferumOverview:
        """The person's chats (newest first) and the video conferences they can join."""
        client = await self._sferum_client()
        conversations, calls = await asyncio.gather(
            client.get_conversations(), client.calls_get_active()
        )
        chats = [summarize(c) for c in conversations.items if c.chat_id is not None]
        return SferumOverview(chats=chats, calls=[_call(c) for c in calls.items])

    # --- sign-out ---------------------------------------------------------------------------

    async def sign_out(self) -> bool:
        """End the session on the servers, wipe its secrets and cache; whether servers heard."""
        self._quiet = True
        self._stop_watcher()
        await self._drop_sferum()  # no Sferum call may start a VK ID refresh from here on
        told = True
        try:
            vk = self._vk
            if vk is not None and vk.keeper.tokens is not None:
                try:
                    # An expired access token would not end its refresh chain: renew it first.
                    tokens = await vk.keeper.current()
                    await self.vkid.logout(tokens.access_token)
                except SessionExpired:
                    pass  # already over
                except ApiError as exc:
                    told = False
                    log.warning("VK ID sign-out not confirmed (%s)", type(exc).__name__)
            try:
                await self.esh.logout()
            except ApiError as exc:
                told = False
                log.warning("ESh sign-out not confirmed (%s)", type(exc).__name__)
        finally:
            self._vk = None
            self.me = None
            await self._drop_sferum()
            await self.esh.set_tokens(None)
            await self.vault.wipe(self.profile.key)
            await asyncio.to_thread(
                shutil.rmtree, paths.profile_cache_dir(self.profile.key), ignore_errors=True
            )
            self._quiet = False
        log.info("signed out (servers told: %s)", told)
        return told

    async def aclose(self) -> None:
        """Close the connections (the session stays remembered for the next start)."""
        self._closed = True
        self._stop_watcher()
        await self._drop_sferum()
        await self.esh.aclose()
        await self.vkid.aclose()


class LinkingFlow:
    """One VK ID sign-in for linking: redirect → tokens → profile preview → ESh `POST /links`.

    The PKCE verifier and `state` stay in memory; a redirect is accepted once, its `state`
    checked in constant time, and its code exchanged at once (a code is single use and
    short-lived). Tokens of a flow that is abandoned are ended at VK ID.
    """

    def __init__(self, session: AuthSession) -> None:
        self.session = session
        self.request: SignInRequest = session.vkid.begin_sign_in(VKID_REDIRECT_URI)
        self.user: VkIdUser | None = None
        self._tokens: VkIdTokens | None = None
        self._device_id: str | None = None
        self._completing = False
        self._linked = False
        self._receiver: LoopbackReceiver | None = None

    def __repr__(self) -> str:
        return f"LinkingFlow(redirect_uri={self.request.redirect_uri!r})"

    @property
    def completing(self) -> bool:
        """Whether this flow already took its redirect (a new attempt needs a new flow)."""
        return self._completing

    @property
    def url(self) -> str:
        """The «Вход в VK ID» page to open."""
        return self.request.url

    def is_redirect(self, url: str) -> bool:
        """Whether a navigation goes to this flow's redirect URI (to be caught, not loaded)."""
        return is_redirect(url, self.request.redirect_uri)

    def restart(self, redirect_uri: str = VKID_REDIRECT_URI) -> str:
        """Start over with fresh PKCE secrets (another try, or the system browser)."""
        if self._completing:
            raise RuntimeError("this flow already received its redirect")
        self.request = self.session.vkid.begin_sign_in(redirect_uri)
        return self.request.url

    async def complete(self, redirect_url: str) -> VkIdUser:
        """Check the redirect, exchange the code at once, and fetch the profile to show."""
        if self._completing:
            raise AuthorizationFailed(service=VKID, reason="a second redirect for one sign-in")
        found = validate_redirect(
            redirect_url, self.request.pkce.state, redirect_uri=self.request.redirect_uri
        )
        self._completing = True
        tokens = await self.session.vkid.exchange_code(
            found.code,
            self.request.pkce.verifier,
            found.device_id,
            self.request.redirect_uri,
            found.state,
        )
        self._tokens, self._device_id = tokens, found.device_id
        user = await self.session.vkid.user_info(tokens.access_token)
        if user.edu_profile is None:
            await self.abandon()
            raise NoEduProfile(service=VKID, reason="the VK ID account has no edu profile")
        self.user = user
        return user

    async def complete_in_browser(self, open_url: Callable[[str], Any]) -> VkIdUser:
        """«Войти через браузер»: the system browser and a loopback redirect (RFC 8252)."""
        receiver = self._receiver = LoopbackReceiver(urlpath(VKID_REDIRECT_URI))
        try:
            redirect_uri = await receiver.start()
            open_url(self.restart(redirect_uri))
            redirect_url = await receiver.wait()
        finally:
            self._receiver = None
            await receiver.close()
        return await self.complete(redirect_url)

    async def cancel_browser(self) -> None:
        """Stop waiting for the system browser."""
        if self._receiver is not None:
            await self._receiver.close()

    async def confirm(self) -> Me:
        """«Продолжить»: link the ESh account to this profile; Sferum tokens kept."""
        if self._tokens is None or self._device_id is None or self.user is None:
            raise RuntimeError("nothing to confirm: the VK ID sign-in is not complete")
        link: Link = await self.session.esh.link(self._tokens.access_token)
        log.info("linked (status %s)", link.status)
        self._linked = True
        return await self.session._linked(self._tokens, self._device_id)

    async def abandon(self) -> None:
        """The person cancelled: end the VK ID tokens this flow obtained (best effort)."""
        await self.cancel_browser()
        tokens, self._tokens = self._tokens, None
        if tokens is not None and not self._linked:
            with contextlib.suppress(ApiError):
                await self.session.vkid.logout(tokens.access_token)


def urlpath(url: str) -> str:
    """The path of a URL (`/vkid/callback`)."""
    return urlsplit(url).path or "/"
