"""Contract tests: EshClient against the real sandbox server over loopback HTTP.

Each test gets the demo school fresh (`sandbox` resets it) and fast retries. The sandbox is
an independent peer, so these tests pin the contract of docs/esh-api-details.md from the
client's side.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urljoin

import httpx
import pytest

from sferum_desktop.api.errors import (
    ApiError,
    Conflict,
    Forbidden,
    InvalidCredentials,
    InvalidGrant,
    MalformedResponse,
    NetworkError,
    RefreshReused,
    SessionExpired,
    TooManyAttempts,
    ValidationFailed,
)
from sferum_desktop.api.esh import EshClient, VersionConflict
from sferum_desktop.api.esh_models import EshTokens
from sferum_desktop.api.oneroster import COLLECTIONS, Enrollment, RosterFilter
from sferum_desktop.api.pkce import PkceRequest, parse_redirect
from sferum_desktop.api.retry import RetryPolicy

if TYPE_CHECKING:
    from conftest import Sandbox  # type: ignore[import-not-found]

ROSTER = "/esh/ims/oneroster/rostering/v1p2"
FAST = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05)


class CountingTransport(httpx.AsyncHTTPTransport):
    """The real HTTP transport, counting requests by method and path."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls[f"{request.method} {request.url.path}"] += 1
        return await super().handle_async_request(request)


MakeClient = Callable[..., EshClient]
T = TypeVar("T")


@pytest.fixture
async def make_client(sandbox: Sandbox) -> AsyncIterator[MakeClient]:
    """EshClient factory for the test's sandbox; clients are closed and faults cleared after."""
    clients: list[EshClient] = []

    def make(**kwargs: Any) -> EshClient:
        kwargs.setdefault("retry", FAST)
        client = EshClient(sandbox.url, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()
    sandbox.clear_faults()


@pytest.fixture
def accounts(sandbox: Sandbox) -> dict[str, Any]:
    found: dict[str, Any] = sandbox.accounts()
    return found


async def signed_in(make_client: MakeClient, account: dict[str, Any], **kw: Any) -> EshClient:
    client = make_client(**kw)
    await client.login(account["username"], account["password"])
    return client


async def first(items: AsyncGenerator[T, None]) -> T:
    """The first item of an async generator, closing it after."""
    async with contextlib.aclosing(items) as opened:
        return await anext(opened)


def lying_tokens(tokens: EshTokens) -> EshTokens:
    """The same tokens, but claiming to be fresh: only the server's 401 can tell."""
    return EshTokens.issued(tokens.access_token, tokens.refresh_token, 900)


# --- sign-in ----------------------------------------------------------------------------------


async def test_login_returns_the_session_and_reports_tokens(
    make_client: MakeClient, accounts: dict[str, Any]
) -> None:
    seen: list[EshTokens | None] = []
    client = make_client(on_tokens_changed=seen.append)
    admin = accounts["admin"]
    session = await client.login(admin["username"], admin["password"])
    assert session.me.id == admin["person_id"]
    assert session.me.full_name == admin["full_name"]
    assert "admin" in session.me.roles
    assert session.tokens.seconds_left() > 800
    assert seen == [session.tokens] and client.tokens == session.tokens
    assert session.tokens.access_token not in repr(session)
    assert (await client.me()).id == admin["person_id"]


async def test_wrong_password_is_invalid_credentials(
    make_client: MakeClient, accounts: dict[str, Any]
) -> None:
    client = make_client()
    with pytest.raises(InvalidCredentials) as caught:
        await client.login(accounts["teacher"]["username"], "not-the-password")
    assert caught.value.status == 401
    assert caught.value.user_message  # the server's Russian text
    assert client.tokens is None


async def test_repeated_failures_lock_the_username(
    make_client: MakeClient, accounts: dict[str, Any]
) -> None:
    client = make_client()
    student = accounts["student"]
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            await client.login(student["username"], "wrong")
    with pytest.raises(TooManyAttempts) as caught:
        await client.login(student["username"], student["password"])  # even the right one
    assert caught.value.retry_after is not None and caught.value.retry_after > 0
    assert caught.value.user_message
    # Others are not affected.
    await client.login(accounts["teacher"]["username"], accounts["teacher"]["password"])


@pytest.mark.parametrize(
    ("role", "esh_role"),
    [("admin", "admin"), ("teacher", "teacher"), ("student", "student"), ("parent", "parent")],
)
async def test_me_for_each_role(
    make_client: MakeClient, accounts: dict[str, Any], role: str, esh_role: str
) -> None:
    client = await signed_in(make_client, accounts[role])
    me = await client.me()
    assert me.id == accounts[role]["person_id"]
    assert esh_role in me.roles
    assert me.link.status in ("linked", "unlinked")
    assert me.schools
    assert me.is_staff == (role in ("admin", "teacher"))


async def test_expired_access_token_is_refreshed_transparently(
    sandbox: Sandbox, make_client: MakeClient, accounts: dict[str, Any]
) -> None:
    sandbox.faults(access_token_ttl_s=1)
    transport = CountingTransport()
    client = await signed_in(make_client, accounts["teacher"], transport=transport)
    before = client.tokens
    await asyncio.sleep(1.2)
    assert (await client.me()).id == accounts["teacher"]["person_id"]
    assert client.refresh_count == 1 and client.tokens != before
    assert transport.calls["POST /esh/api/v1/auth/refresh"] == 1


async def test_server_side_expiry_is_cured_by_one_refresh(
    sandbox: Sandbox, make_client: MakeClient, accounts: dict[str, Any]
) -> None:
    sandbox.faults(access_token_ttl_s=1)
    first = await signed_in(make_client, accounts["teacher"])
    assert first.tokens is not None
    sandbox.clear_faults()
    await asyncio.sleep(1.2)
    transport = CountingTransport()
    client = make_client(tokens=lying_tokens(first.tokens), transport=transport)
    assert (await client.me()).id == accounts["teacher"]["person_id"]
    assert transport.calls == Counter({"GET /esh/api/v1/me": 2, "POST /esh/api/v1/auth/refresh": 1})


@pytest.mark.parametrize("client_knows_expiry", [False, True])
async def test_twenty_concurrent_calls_make_one_refresh(
    sandbox: Sandbox, make_client: MakeClient, accounts: dict[str, Any], client_knows_expiry: bool
) -> None:
    sandbox.faults(access_token_ttl_s=1)
    first = await signed_in(make_client, accounts["admin"])
    assert first.tokens is not None
    sandbox.clear_faults()  # the refreshed token lives 15 minutes again
    await asyncio.sleep(1.2)
    transport = CountingTransport()
    seen: list[EshTokens | None] = []
    tokens = first.tokens if client_knows_expiry else lying_tokens(first.tokens)
    client = make_client(tokens=tokens, transport=transport, on_tokens_changed=seen.append)
    people = await asyncio.gather(*(client.me() for _ in range(20)))
    assert {p.id for p in people} == {accounts["admin"]["person_id"]}
    assert transport.calls["POST /esh/api/v1/auth/refresh"] == 1
    assert client.refresh_count == 1 and len(seen) == 1


async def test_reused_refresh_token_revokes_the_session(
    make_client: MakeClient, accounts: dict[str, Any]
) -> None:
    seen: list[EshTokens | None] = []
    client = await signed_in(make_client, accounts["teacher"], on_tokens_changed=seen.append)
    spent = client.tokens
    assert spent is not None
    await client.refresh()
    assert len(seen) == 2
    thief = make_client(tokens=spent)
    with pytest.raises(RefreshReused) as caught:
        await thief.refresh()
    assert isinstance(caught.value, SessionExpired)
    assert thief.tokens is None
    with pytest.raises(SessionExpired):
        await client.me()  # the whole session is gone, the rotated pair included
    assert client.tokens is None and seen[-1] is None


async def test_a_lost_refresh_answer_is_not_repeated_and_ends_the_session_next_time(
    sandbox: Sandbox, make_client: MakeClient, accounts: dict[str, Any]
) -> None:
    # The sandbox's cut lets the request take effect first: the refresh token is spent and
    # its successor lost. Repeating it would be reported as reuse, so the client does not.
    sandbox.faults(access_token_ttl_s=1)
    transport = CountingTransport()
    client = await signed_in(make_client, accounts["teacher"], transport=transport)
    await asyncio.sleep(1.2)
    sandbox.faults(disconnect_rate=1)
    with pytest.raises(NetworkError) as caught:
        await client.me()
    assert caught.value.maybe_processed
    assert transport.calls["POST /esh/api/v1/auth/refresh"] == 1
    assert client.tokens is not None  # not known to be dead yet
    sandbox.clear_faults()
    with pytest.raises(RefreshReused):
        await client.me()
    assert client.tokens is None


async def test_no_secret_or_name_reaches_logs_or_errors(
    sandbox: Sandbox,
    make_client: MakeClient,
    accounts: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG", logger="sferum_desktop.api")
    teacher = accounts["teacher"]
    client = make_client()
    errors: list[ApiError] = []
    try:
        await client.login(teacher["username"], "wrong-password")
    except ApiError as exc:
        errors.append(exc)
    session = await client.login(teacher["username"], teacher["password"])
    first = session.tokens
    await client.refresh()
    second = client.tokens
    assert second is not None
    sandbox.faults(error_rate=1)
    try:
        await client.me()
    except ApiError as exc:
        errors.append(exc)
    sandbox.clear_faults()
    await client.logout()
    tokens = [first.access_token, first.refresh_token, second.access_token, second.refresh_token]
    private = [*tokens, teacher["password"], "wrong-password", teacher["username"]]
    private.append(teacher["full_name"])
    logged = [r.getMessage() for r in caplog.records] + [str(e) for e in errors]
    logged += [repr(e) for e in errors]
    assert len(errors) == 2 and caplog.records
    for text in logged:
        for secret in private:
            assert secret is None or secret not in text, text
    # Reprs of the session may name the person (it is their own), never the tokens.
    for text in (repr(session), repr(first), str(first), repr(client)):
        for token in tokens:
            assert token is None or token not in text, text


async def test_logout_revokes_the_session(
    make_client: MakeClient, accounts: dict[str, Any]
) -> None:
    seen: list[EshTokens | None] = []
    client = await signed_in(make_client, accounts["parent"], on_tokens_changed=seen.append)
    tokens = client.tokens
    assert tokens is not None
    await client.logout()
    assert client.tokens is None and seen[-1] is None
    other = make_client(tokens=tokens)
    with pytest.raises(SessionExpired):
        await other.me()
    await client.logout()  # signed out already: nothing to do


class _FormReader(HTMLParser):
    """The first form of a page: its action, method and inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.method = "get"
        self.inputs: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form" and self.action is None:
            self.action = values.get("action", "")
            self.method = values.get("method", "get").lower()
        elif tag == "input" and self.action is not None:
            self.inputs.append(values)


async def esia_sign_in(
    client: EshClient, pkce: PkceRequest, redirect_uri: str, account: dict[str, Any]
) -> str:
    """Drive the Госуслуги page like a browser; return the redirect's code (not followed)."""
    url = client.esia_authorize_url("sferum-desktop", redirect_uri, pkce.state, pkce.challenge)
    async with httpx.AsyncClient(follow_redirects=False) as browser:
        page = await browser.get(url)
        assert page.status_code == 200, page.text
        form = _FormReader()
        form.feed(page.text)
        assert form.action is not None and form.method == "post"
        fields: dict[str, str] = {}
        for item in form.inputs:
            kind = item.get("type", "text")
            if kind == "password":
                fields[item["name"]] = account["password"]
            elif kind in ("text", "tel", "email"):
                fields[item["name"]] = account["username"]
            elif "name" in item:
                fields[item["name"]] = item.get("value", "")
        answer = await browser.post(urljoin(url, form.action), data=fields)
    assert answer.status_code in (302, 303), answer.text
    location = answer.headers["Location"]
    assert location.startswith(redirect_uri)
    return parse_redirect(location, pkce.state)


async def test_esia_sign_in_with_pkce(make_client: MakeClient, accounts: dict[str, Any]) -> None:
    client = make_client()
    teacher = accounts["teacher"]
    pkce = PkceRequest()
    redirect_uri = "http://127.0.0.1:51234/esia/callback"
    code = await esia_sign_in(client, pkce, redirect_uri, teacher)
    session = await client.esia_exchange(code, pkce.verifier, redirect_uri)
    assert session.me.id == teacher["person_id"]
    assert (await client.me()).id == teacher["person_id"]
    with pytest.raises(InvalidGrant):  # single use
        await client.esia_exchange(code, pkce.verifier, redirect_uri)

    other = PkceRequest()
    code = await esia_sign_in(client, other, redirect_uri, teacher)
    with pytest.raises(InvalidGrant):  # a verifier that does not match the challenge
        await client.esia_exchange(code, pkce.verifier, redirect_uri)


async def test_password_reset_page_exists(sandbox: Sandbox, make_client: MakeClient) -> None:
    client = make_client()
    async with httpx.AsyncClient() as browser:
        page = await browser.get(client.password_reset_url())
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]


# --- roster -----------------------------------------------------------------------------------


async def test_roster_paging_reads_every_record_of_every_collection(
    sandbox: Sandbox, make_client: MakeClient, accounts: dict[str, Any]
) -> None:
    client = await signed_in(make_client, accounts["admin"])
    assert client.tokens is not None
    headers = {"Authorization": f"Bearer {client.tokens.access_token}"}
    async with httpx.AsyncClient(base_url=sandbox.url, headers=headers) as raw:
        for name in COLLECTIONS:
            answer = await raw.get(f"{ROSTER}/{name}", params={"limit": 1})
            assert answer.status_code == 200, (name, answer.text)
            total = int(answer.headers["X-Total-Count"])
            assert total > 0, name
            small = [r async for r in client.iter_collection(name, page_size=7)]
            large = [r async for r in client.iter_collection(name)]
            assert len(small) == len(large) == total, name
            assert len({r.sourced_id for r in small}) == total, name
            assert [r.sourced_id for r in small] == [r.sourced_id for r in large], name
            assert all(not r.is_deleted for r in large), name


async def test_typed_roster_iterators_and_filters(
    make_client: MakeClient, accounts: dict[str, Any]
) -> None:
    client = await signed_in(make_client, accounts["admin"])
    users = [u async for u in client.iter_users()]
    assert any(u.full_name == accounts["teacher"]["full_name"] for u in users)
    active = [u async for u in client.iter_users(RosterFilter.active(), page_size=5)]
    assert {u.sourced_id for u in active} == {u.sourced_id for u in users}
    classes = [c async for c in client.iter_classes()]
    assert {c.class_type for c in classes} >= {"homeroom", "scheduled"}
    groups = [c for c in classes if c.class_type == "scheduled"]
    assert all(g.homeroom_id for g in groups)
    assert [o async for o in client.iter_orgs()]
    assert [c async for c in client.iter_courses()]
    assert [s async for s in client.iter_academic_sessions()]
    enrollments = [e async for e in client.iter_enrollments()]
    assert {e.role for e in enrollments} >= {"student", "teacher"}
    one = await client.get_user(accounts["student"]["person_id"])
    assert one.full_name == accounts["student"]["full_name"]
    assert (await client.get_class(groups[0].sourced_id)).title == groups[0].title


async def test_students_and_parents_cannot_read_the_roster(
    make_client: MakeClient, accounts: dict[str, Any]
) -> None:
    for role in ("student", "parent"):
        client = await signed_in(make_client, accounts[role])
        with pytest.raises(Forbidden):
            [u async for u in client.iter_users()]


async def test_delta_shows_changes_and_tombstones(
    sandbox: Sandbox, make_client: MakeClient, accounts: dict[str, Any]
) -> None:
    client = await signed_in(make_client, accounts["admin"])
    snapshot = await client.fetch_roster()
    assert snapshot.cursor is not None and not snapshot.is_delta
    assert snapshot.total == sum(len(snapshot.collection(n)) for n in COLLECTIONS)
    last_change = max(r.date_last_modified for r in snapshot.records())
    student = accounts["student"]["person_id"]
    before = {e.sourced_id for e in snapshot.enrollments if e.user_id == student}
    homerooms = [c for c in snapshot.classes if c.class_type == "homeroom"]
    old_class = next(
        e.class_id
        for e in snapshot.enrollments
        if e.user_id == student and any(c.sourced_id == e.class_id for c in homerooms)
    )
    new_class = next(c.sourced_id for c in homerooms if c.sourced_id != old_class)
    await asyncio.sleep(0.01)
    sandbox.dev(
        "POST", "roster", json={"op": "transfer", "student_id": student, "class_id": new_class}
    )

    delta = [
        e
        async for e in client.changed_since("enrollments", last_change)
        if isinstance(e, Enrollment)
    ]
    gone = {e.sourced_id for e in delta if e.is_deleted}
    made = [e for e in delta if not e.is_deleted and e.user_id == student]
    assert before and before <= gone
    assert any(e.class_id == new_class for e in made)
    # Without the delta filter the tombstones are not listed.
    current = {e.sourced_id async for e in client.iter_enrollments()}
    assert not (gone & current)

    roster_delta = await client.fetch_roster(since=snapshot.cursor)
    assert roster_delta.is_delta
    assert before <= {e.sourced_id for e in roster_delta.tombstones()}
    assert {e.sourced_id for e in made} <= {e.sourced_id for e in roster_delta.enrollments}
    assert roster_delta.cursor is not None and roster_delta.cursor >= snapshot.cursor


# --- registry ---------------------------------------------------------------------------------


async def teacher_group(client: EshClient, teacher_id: str) -> str:
    """A teaching group the teacher teaches, from the roster."""
    groups = {c.sourced_id async for c in client.iter_classes() if c.class_type == "scheduled"}
    async for e in client.iter_enrollments():
        if e.user_id == teacher_id and e.role == "teacher" and e.class_id in groups:
            return e.class_id
    raise AssertionError("the demo teacher teaches no group")


async def test_registry_lists_the_demo_chats(
    make_client: MakeClient, accounts: dict[str, Any]
) -> None:
    client = await signed_in(make_client, accounts["admin"])
    page = await client.list_chats(limit=3)
    assert len(page.items) == 3 and page.total >= 7
    every = [c async for c in client.iter_chats(page_size=2)]
    assert len(every) == page.total
    names = {c.name for c in every}
    assert {"Учительская", "3 А", "3 А Родители", "1 А", "1 А Родители"} <= names
    staff = [c async for c in client.iter_chats(type="staff")]
    assert [c.name for c in staff] == ["Учительская"]
    chat = await client.get_chat(every[0].id)
    assert chat.version == every[0].version


async def test_teacher_creates_a_subject_chat_and_is_refused_elsewhere(
    make_client: MakeClient, accounts: dict[str, Any]
) -> None:
    teacher = await signed_in(make_client, accounts["teacher"])
    group = await teacher_group(teacher, accounts["teacher"]["person_id"])
    chat = await teacher.create_chat(type="subject", group_id=group)
    assert chat.type == "subject" and chat.group_id == group and " - " in chat.name
    assert chat.admin_person_id == accounts["teacher"]["person_id"]

    admin = await signed_in(make_client, accounts["admin"])
    staff_chat = await admin.get_chat((await first(admin.iter_chats(type="staff"))).id)
    assert staff_chat.admin_person_id != accounts["teacher"]["person_id"]
    with pytest.raises(Forbidden):  # a teacher edits only the chats they administer
        await teacher.update_chat(staff_chat.id, staff_chat.version, name="Наша")
    assert (await admin.get_chat(staff_chat.id)).version == staff_chat.version

    student = await signed_in(make_client, accounts["student"])
    with pytest.raises(Forbidden) as caught:
        await student.create_chat(type="custom", name="Мой чат")
    assert caught.value.code == "forbidden" and caught.value.user_message
    with pytest.raises(Forbidden):  # students read their own chats only
        await student.get_chat(staff_chat.id)


async def test_registry_conflicts_and_validation(
    make_client: MakeClient, accounts: dict[str, Any]
) -> None:
    admin = await signed_in(make_client, accounts["admin"])
    class_chat = await first(admin.iter_chats(type="class"))
    with pytest.raises(Conflict) as duplicate:
        await admin.create_chat(type="class", class_id=class_chat.class_id)
    assert duplicate.value.code == "duplicate" and duplicate.value.status == 409

    with pytest.raises(Conflict) as automatic:
        await admin.delete_chat(class_chat.id, class_chat.version)
    assert automatic.value.code == "automatic_chat"

    with pytest.raises(ValidationFailed) as invalid:
        await admin.create_chat(type="custom")
    assert invalid.value.fields.get("name")

    custom = await admin.create_chat(type="custom", name="Кружок робототехники")
    renamed = await admin.update_chat(custom.id, custom.version, name="Робототехника")
    assert renamed.name == "Робототехника" and renamed.version > custom.version
    with pytest.raises(VersionConflict) as stale:
        await admin.update_chat(custom.id, custom.version, name="Старое имя")
    assert stale.value.status == 412
    assert stale.value.current.version == renamed.version
    assert stale.value.current.name == "Робототехника"

    linked = await admin.set_sferum_chat(renamed.id, 2_000_000_123)
    assert linked.sferum_chat_id == 2_000_000_123
    await admin.delete_chat(linked.id, linked.version)
    with pytest.raises(ApiError) as missing:
        await admin.get_chat(linked.id)
    assert missing.value.status == 404


async def test_members_add_remove_and_exclusion(
    make_client: MakeClient, accounts: dict[str, Any]
) -> None:
    admin = await signed_in(make_client, accounts["admin"])
    chat = await admin.create_chat(type="custom", name="Хор")
    person = accounts["teacher"]["person_id"]

    added = await admin.add_members(chat.id, [person], "staff", "manual", version=chat.version)
    assert added.added == [person] and added.version > chat.version
    again = await admin.add_members(chat.id, [person], "staff", "manual")
    assert again.added == [] and again.version >= added.version  # idempotent

    members = await admin.list_members(chat.id)
    assert [(m.person_id, m.source, m.excluded) for m in members] == [(person, "manual", False)]

    with pytest.raises(VersionConflict) as stale:
        await admin.remove_members(chat.id, [person], exclude=True, version=chat.version)
    assert stale.value.current.id == chat.id

    removed = await admin.remove_members(chat.id, [person], exclude=True)
    assert removed.removed == [person]
    assert await admin.list_members(chat.id) == []
    excluded = await admin.list_members(chat.id, include_excluded=True)
    assert [(m.person_id, m.excluded) for m in excluded] == [(person, True)]

    back = await admin.add_members(chat.id, [person], "staff", "manual")
    assert back.added == [person]
    assert [m.excluded for m in await admin.list_members(chat.id, include_excluded=True)] == [False]


async def test_links_list_link_and_unlink(
    sandbox: Sandbox, make_client: MakeClient, accounts: dict[str, Any]
) -> None:
    admin = await signed_in(make_client, accounts["admin"])
    links = [link async for link in admin.list_links(page_size=3)]
    assert links and {link.status for link in links} <= {"linked", "unlinked"}
    since = max(link.updated_at for link in links)

    # Find someone with a VK ID educational profile and someone else to misuse it.
    vk_token: str | None = None
    owner = None
    for role in ("admin", "teacher", "parent", "student"):
        issued = sandbox.tokens(accounts[role]["username"])
        if issued.get("vkid"):
            vk_token, owner = issued["vkid"]["access_token"], role
            break
    assert vk_token is not None and owner is not None, "the demo has no VK ID profile"
    client = await signed_in(make_client, accounts[owner])
    unlinked = await client.unlink()
    assert unlinked.status == "unlinked" and unlinked.person_id == accounts[owner]["person_id"]
    assert (await client.me()).link.status == "unlinked"

    linked = await client.link(vk_token)
    assert linked.status == "linked" and linked.vk_user_id
    assert (await client.me()).link.vk_user_id == linked.vk_user_id
    changed = [link async for link in admin.list_links(updated_after=since)]
    assert accounts[owner]["person_id"] in {link.person_id for link in changed}

    other_role = next(r for r in ("teacher", "parent", "admin") if r != owner)
    other = await signed_in(make_client, accounts[other_role])
    with pytest.raises(Conflict) as taken:
        await other.link(vk_token)
    assert taken.value.code == "already_linked"


# --- faults -----------------------------------------------------------------------------------


async def test_malformed_answers_are_errors_and_not_retried_forever(
    sandbox: Sandbox, make_client: MakeClient, accounts: dict[str, Any]
) -> None:
    transport = CountingTransport()
    client = await signed_in(make_client, accounts["teacher"], transport=transport)
    sandbox.faults(malformed_rate=1)
    with pytest.raises(MalformedResponse) as caught:
        await client.me()
    assert "GET /esh/api/v1/me" in str(caught.value) and caught.value.user_message
    assert transport.calls["GET /esh/api/v1/me"] == FAST.attempts
    with pytest.raises(MalformedResponse):
        await client.login(accounts["teacher"]["username"], accounts["teacher"]["password"])
    assert transport.calls["POST /esh/api/v1/auth/login"] == 2  # the first sign-in + one try


async def test_cut_connections_are_retried_then_a_network_error(
    sandbox: Sandbox, make_client: MakeClient, accounts: dict[str, Any]
) -> None:
    transport = CountingTransport()
    client = await signed_in(make_client, accounts["teacher"], transport=transport)
    sandbox.faults(disconnect_rate=1)
    with pytest.raises(NetworkError) as caught:
        await client.me()
    assert caught.value.maybe_processed
    assert transport.calls["GET /esh/api/v1/me"] == FAST.attempts
    sandbox.clear_faults()
    assert (await client.me()).id == accounts["teacher"]["person_id"]


async def test_flaky_server_is_survived_by_retries(
    sandbox: Sandbox, make_client: MakeClient, accounts: dict[str, Any]
) -> None:
    policy = RetryPolicy(attempts=10, base_delay=0.005, max_delay=0.02)
    transport = CountingTransport()
    client = await signed_in(make_client, accounts["admin"], retry=policy, transport=transport)
    sandbox.faults(error_rate=0.5, seed=7)
    again = make_client(retry=policy)
    await again.login(accounts["teacher"]["username"], accounts["teacher"]["password"])  # 503s
    for _ in range(10):
        assert (await client.me()).id == accounts["admin"]["person_id"]
    chats = [c async for c in client.iter_chats(page_size=2)]
    assert len(chats) >= 7
    assert transport.calls["GET /esh/api/v1/me"] > 10  # some answers were 503s


async def test_rate_limit_is_waited_out(
    sandbox: Sandbox, make_client: MakeClient, accounts: dict[str, Any]
) -> None:
    transport = CountingTransport()
    client = await signed_in(make_client, accounts["teacher"], transport=transport)
    sandbox.faults(rate_limit_rps=3)
    people = await asyncio.gather(*(client.me() for _ in range(6)))
    assert len(people) == 6
    assert transport.calls["GET /esh/api/v1/me"] > 6  # some were told to wait, then repeated


async def test_blocked_person_cannot_continue_the_session(
    sandbox: Sandbox, make_client: MakeClient, accounts: dict[str, Any]
) -> None:
    seen: list[EshTokens | None] = []
    client = await signed_in(make_client, accounts["student"], on_tokens_changed=seen.append)
    sandbox.dev(
        "POST", "roster", json={"op": "block", "person_id": accounts["student"]["person_id"]}
    )
    with pytest.raises(SessionExpired) as caught:
        await client.refresh()
    assert caught.value.code == "forbidden" and caught.value.user_message
    assert client.tokens is None and seen[-1] is None
    with pytest.raises(Forbidden):
        await make_client().login(accounts["student"]["username"], accounts["student"]["password"])


async def test_unreachable_server_is_a_russian_network_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The port is closed now: nothing listens there.
    async with EshClient(f"http://127.0.0.1:{port}", retry=FAST) as client:
        with pytest.raises(NetworkError) as caught:
            await client.login("pavlova", "demo")
    assert caught.value.user_message == "Сервер ЭШ недоступен. Проверьте подключение к сети."
    assert not caught.value.maybe_processed
