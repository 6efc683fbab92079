"""Headless commands (no Qt): `sferum-desktop sync`, the automatic membership sync (cli.md).

    sferum-desktop sync [--profile NAME] [--school ID] [--dry-run] [--watch SECONDS]
                        [--json] [--confirm-held]

- The server profile comes from `profiles.toml` (`--profile`, else its default), the URLs
  overridden by `SFERUM_DESKTOP_ESH_URL`, `…_VKID_URL`, `…_SFERUM_URL` (which alone make a
  profile when there is no file). Tokens: `SFERUM_DESKTOP_ESH_TOKEN` and
  `SFERUM_DESKTOP_SFERUM_TOKEN` (a service account), else the session the desktop sign-in
  left in the OS keyring (refreshed, and the new tokens written back there).
- Settings of the sync itself (the mass-removal thresholds) in `sync.toml` beside the
  profiles (`sferum_desktop.sync.config`); its store (roster cache, journal, audit log) in the
  user data folder, one per profile.
- `--json` prints one JSON object per run on stdout; otherwise a short summary in Russian.
  Logs go to stderr (`SFERUM_DESKTOP_LOG=INFO` or `DEBUG` for more); never a token.
- Exit codes: 0 done; 2 bad usage or configuration; 3 sign-in needed; 4 plan held for
  confirmation (mass removal; nothing applied — rerun with `--confirm-held`); 5 some
  operations failed, or the servers could not be read (a rerun resumes); 1 an internal error.
- `--watch N` syncs every N seconds until SIGINT/SIGTERM, which stop it cleanly: the batch in
  flight is finished and journaled, the rest is left for the next run (exit code 0, or 2/3
  when the configuration or the sign-in ended the loop). A second signal stops at once; the
  journal lets the next run resume.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TextIO

from sferum_desktop.api.errors import ApiError
from sferum_desktop.api.esh import EshClient
from sferum_desktop.api.sferum import SferumClient
from sferum_desktop.api.tokens import BearerTokens
from sferum_desktop.auth.profiles import ProfileError, ServerProfile, load_profiles
from sferum_desktop.store import Store, StoreError, default_store_path
from sferum_desktop.sync.config import SyncConfigError, load_config
from sferum_desktop.sync.engine import SyncEngine
from sferum_desktop.sync.report import EMPTY_SUMMARY, SyncReport, error_code, error_message

log = logging.getLogger("sferum_desktop.cli")

EXIT_OK: Final = 0
EXIT_INTERNAL: Final = 1
EXIT_USAGE: Final = 2
EXIT_SIGN_IN: Final = 3
EXIT_HELD: Final = 4
EXIT_FAILED: Final = 5

ENV_ESH_TOKEN: Final = "SFERUM_DESKTOP_ESH_TOKEN"  # noqa: S105 (a variable's name)
ENV_SFERUM_TOKEN: Final = "SFERUM_DESKTOP_SFERUM_TOKEN"  # noqa: S105
ENV_LOG: Final = "SFERUM_DESKTOP_LOG"

USAGE: Final = """\
usage: sferum-desktop sync [--profile NAME] [--school ID] [--dry-run] [--watch SECONDS]
                           [--json] [--confirm-held]
"""


class UsageError(Exception):
    """Bad arguments or configuration (exit code 2); the message is Russian."""


class SignInNeeded(Exception):
    """No usable tokens (exit code 3); the message is Russian."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sferum-desktop sync",
        description="Автоматическая синхронизация участников чатов Сферума с ЭШ.",
    )
    parser.add_argument("--profile", metavar="NAME", help="профиль серверов из profiles.toml")
    parser.add_argument("--school", metavar="ID", help="только эта школа (sourcedId в ЭШ)")
    parser.add_argument(
        "--dry-run", action="store_true", help="только показать план, ничего не менять"
    )
    parser.add_argument(
        "--watch",
        metavar="SECONDS",
        type=float,
        help="повторять каждые SECONDS секунд до SIGINT/SIGTERM",
    )
    parser.add_argument("--json", action="store_true", help="один объект JSON на каждый прогон")
    parser.add_argument(
        "--confirm-held",
        action="store_true",
        help="применить и отложенные массовые удаления (после проверки)",
    )
    return parser


def exit_code(report: SyncReport) -> int:
    """cli.md's exit code of a run."""
    if report.sign_in_needed:
        return EXIT_SIGN_IN
    if report.held:
        return EXIT_HELD
    if not report.ok:
        return EXIT_FAILED
    return EXIT_OK


# --- configuration and tokens ---------------------------------------------------------------


def resolve_profile(name: str | None, env: Mapping[str, str]) -> ServerProfile:
    profiles = load_profiles(env=env)
    configured = [p for p in profiles.profiles if not p.demo]
    if profiles.problem and not configured:
        raise UsageError(profiles.problem)
    if name is None:
        name = profiles.default
        if name is None:
            raise UsageError(
                "Не настроен профиль серверов: задайте SFERUM_DESKTOP_ESH_URL "
                "(и SFERUM_DESKTOP_SFERUM_URL) или создайте profiles.toml."
            )
    profile = profiles.get(name)
    if profile is None:
        known = ", ".join(p.name for p in configured) or "нет"
        raise UsageError(f"Профиль «{name}» не найден (настроены: {known}).")
    if not profile.ready:
        raise UsageError(f"Профиль «{name}» не готов: для него не задан адрес ЭШ.")
    return profile


@contextlib.asynccontextmanager
async def open_clients(
    profile: ServerProfile, env: Mapping[str, str], *, watch: bool
) -> AsyncIterator[tuple[EshClient, SferumClient]]:
    """The ESh and Sferum clients with the service account's or the keyring's tokens."""
    esh_token = env.get(ENV_ESH_TOKEN, "").strip()
    sferum_token = env.get(ENV_SFERUM_TOKEN, "").strip()
    if esh_token or sferum_token:
        if not (esh_token and sferum_token):
            missing = ENV_SFERUM_TOKEN if esh_token else ENV_ESH_TOKEN
            raise SignInNeeded(f"Не задана переменная {missing}: нужны оба токена.")
        # A service account's token: no refresh token, so it is used until ESh refuses it.
        tokens = BearerTokens(
            access_token=esh_token,
            refresh_token=None,
            expires_at=datetime.now(UTC) + timedelta(days=3650),
            lifetime_s=3650 * 86400.0,
        )
        esh = EshClient(profile.esh_url, verify=profile.verify, proxy=profile.proxy, tokens=tokens)
        sferum = SferumClient(
            profile.sferum_url, sferum_token, verify=profile.verify, proxy=profile.proxy
        )
        try:
            yield esh, sferum
        finally:
            await sferum.aclose()
            await esh.aclose()
        return
    # The desktop sign-in's session, from the OS keyring (tokens refreshed and saved back).
    from sferum_desktop.auth.session import RESTORE_EXPIRED_MESSAGE, AuthSession
    from sferum_desktop.auth.vault import Vault

    vault = Vault()
    if not vault.status.persistent:
        raise SignInNeeded(
            "Нет токенов: задайте SFERUM_DESKTOP_ESH_TOKEN и SFERUM_DESKTOP_SFERUM_TOKEN "
            "или войдите в программе (в системе нет хранилища паролей)."
        )
    session = AuthSession(profile, vault, proactive=watch)
    try:
        restored = await session.restore()
        if restored.me is None:
            if restored.message is not None and restored.message != RESTORE_EXPIRED_MESSAGE:
                raise _Unreachable(restored.message)
            raise SignInNeeded(
                restored.message or "Войдите в программе (ЭШ и Сферум) или задайте токены."
            )
        if not session.has_sferum:
            raise SignInNeeded("Войдите в Сферум через VK ID в программе.")
        sferum = await session.sferum_client()
        yield session.esh, sferum
    finally:
        await session.aclose()


class _Unreachable(Exception):
    """The server could not be reached to resume the remembered session (exit code 5)."""


# --- output ---------------------------------------------------------------------------------


def _print_json(data: Mapping[str, Any], out: TextIO) -> None:
    out.write(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n")
    out.flush()


def _error_json(code: str, message: str) -> dict[str, Any]:
    return {
        "plan": dict(EMPTY_SUMMARY),
        "applied": {"create_chats": 0, "add": 0, "remove": 0},
        "failed": [],
        "duration_s": 0.0,
        "error": {"code": code, "message": message},
    }


def _print_human(report: SyncReport, out: TextIO) -> None:
    data = report.as_json()
    p, a = data["plan"], data["applied"]
    lines = []
    if report.plan is not None:
        lines.append(
            f"План: создать чатов {p['create_chats']}, добавить {p['add']}, "
            f"удалить {p['remove']}; ожидают привязки {p['pending']}; отложено {p['held']}."
        )
    if report.resumed:
        r = data["resumed"]
        lines.append(
            "Завершено после сбоя: "
            f"создано {r['create_chats']}, добавлено {r['add']}, удалено {r['remove']}."
        )
    if report.held:
        assert report.plan is not None
        lines.extend(hold.message for hold in report.plan.held)
        lines.append(
            "Ничего не изменено. Проверьте план (--dry-run) и подтвердите: --confirm-held."
        )
    elif report.dry_run:
        lines.append("Пробный запуск: ничего не изменено.")
    elif report.plan is not None:
        lines.append(
            f"Применено: создано {a['create_chats']}, добавлено {a['add']}, "
            f"удалено {a['remove']}; ошибок {len(report.failed)}."
        )
    for failed in report.failed[:50]:
        who = failed.op.op_id
        lines.append(f"  ошибка: {who}: {failed.message} ({failed.code})")
    if len(report.failed) > 50:
        lines.append(f"  … и ещё {len(report.failed) - 50}")
    for key, why in report.skipped_chats.items():
        lines.append(f"  пропущен чат Сферума {key}: {why}")
    if report.not_applied:
        lines.append(f"Не отправлено (повторный запуск выполнит): {len(report.not_applied)}.")
    if report.error is not None:
        lines.append(f"Ошибка: {error_message(report.error)}")
    lines.append(f"Время: {report.duration_s:.1f} с.")
    out.write("\n".join(lines) + "\n")
    out.flush()


# --- running --------------------------------------------------------------------------------


def _install_signals(loop: asyncio.AbstractEventLoop, on_signal: Any) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal)
        except (NotImplementedError, RuntimeError):  # Windows: no loop signal handlers
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(on_signal))


async def _sync(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    try:
        config = load_config()
        profile = resolve_profile(args.profile, env)
    except (SyncConfigError, ProfileError) as exc:
        raise UsageError(exc.user_message) from None
    try:
        store = Store.open(default_store_path(profile.key))
    except (StoreError, OSError) as exc:
        message = exc.user_message if isinstance(exc, StoreError) else str(exc)
        raise UsageError(f"Локальная база синхронизации недоступна: {message}") from None
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    main_task = asyncio.current_task()
    engine: SyncEngine | None = None

    def on_signal() -> None:
        if stop.is_set():
            log.warning("second signal: stopping at once")
            if main_task is not None:
                main_task.cancel()
            return
        log.info("signal received: finishing the batch in flight, then stopping")
        stop.set()
        if engine is not None:
            engine.cancel()

    _install_signals(loop, on_signal)
    code = EXIT_OK
    try:
        async with open_clients(profile, env, watch=args.watch is not None) as (esh, sferum):
            engine = SyncEngine(
                esh,
                sferum,
                store,
                school_ids=[args.school] if args.school else None,
                config=config,
                actor="sync",
            )
            try:
                while not stop.is_set():
                    try:
                        report = await engine.sync(
                            dry_run=args.dry_run, confirm_held=args.confirm_held
                        )
                    except SyncConfigError as exc:
                        raise UsageError(exc.user_message) from None
                    if args.json:
                        _print_json(report.as_json(), out)
                    else:
                        _print_human(report, out)
                    code = exit_code(report)
                    if args.watch is None or code == EXIT_SIGN_IN:
                        break
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=args.watch)
                if args.watch is not None and stop.is_set() and code != EXIT_SIGN_IN:
                    code = EXIT_OK
            finally:
                await engine.aclose()
    finally:
        store.close()
    return code


def sync_main(argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> int:
    """`sferum-desktop sync …`; returns the exit code."""
    env = os.environ if env is None else env
    parser = _parser()
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:  # argparse: --help (0) or bad usage (2)
        return int(exc.code or 0)
    if args.watch is not None and args.watch <= 0:
        print("--watch: число секунд должно быть больше нуля.", file=sys.stderr)
        return EXIT_USAGE
    level = env.get(ENV_LOG, "WARNING").upper()
    logging.basicConfig(
        level=getattr(logging, level, logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("httpx", "httpcore"):  # request lines: nothing the log needs
        logging.getLogger(noisy).setLevel(logging.WARNING)
    out = sys.stdout
    try:
        return asyncio.run(_sync(args, env, out))
    except UsageError as exc:
        return _fail(args, EXIT_USAGE, "usage", str(exc), out)
    except SignInNeeded as exc:
        return _fail(args, EXIT_SIGN_IN, "sign_in", str(exc), out)
    except _Unreachable as exc:
        return _fail(args, EXIT_FAILED, "unreachable", str(exc), out)
    except ApiError as exc:
        return _fail(args, EXIT_FAILED, error_code(exc), error_message(exc), out)
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("Остановлено.", file=sys.stderr)
        return EXIT_FAILED
    except Exception:
        log.exception("sync failed")
        return EXIT_INTERNAL


def _fail(args: argparse.Namespace, code: int, kind: str, message: str, out: TextIO) -> int:
    print(message, file=sys.stderr)
    if args.json:
        _print_json(_error_json(kind, message), out)
    return code


def main(argv: Sequence[str]) -> int:
    """Route a headless command: `sync …`."""
    args = list(argv)
    if args[:1] == ["sync"]:
        return sync_main(args[1:])
    print(USAGE, end="", file=sys.stderr)
    return EXIT_USAGE
