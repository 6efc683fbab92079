"""`sferum-desktop sandbox`: build or reopen the sandbox database and serve it on loopback.

Prints exactly one `SANDBOX READY http://127.0.0.1:<port>` line once requests are accepted,
then the dataset's accounts. Heavy imports (FastAPI, SQLAlchemy, uvicorn) happen after the
arguments are parsed, so that start-up stays well under the 5 s the tests allow.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("sferum_desktop.sandbox.server")

DEFAULT_HOST = "127.0.0.1"


def default_data_dir() -> Path:
    """The per-user data folder of the sandbox (…/sferum-desktop/sandbox)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("sferum-desktop", appauthor=False)) / "sandbox"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sferum-desktop sandbox",
        description="The local server that emulates ESh, VK ID and Sferum.",
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help="address to listen on (default: 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=0, help="port (default 0: any free port)")
    parser.add_argument("--data", type=Path, default=None, help="folder of sandbox.sqlite3")
    parser.add_argument("--dataset", choices=("demo", "school", "district"), default="demo")
    parser.add_argument("--seed", type=int, default=1)
    return parser


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    """A bound TCP socket on `host:port` (port 0: the OS picks a free one); IPv4 preferred."""
    infos = socket.getaddrinfo(
        host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )
    family, kind, proto, _, address = min(infos, key=lambda i: i[0] != socket.AF_INET)
    sock = socket.socket(family, kind, proto)
    if os.name != "nt":  # on Windows SO_REUSEADDR would let another process steal the port
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def base_url(sock: socket.socket) -> str:
    """The URL a client on this machine uses; a wildcard address prints as loopback."""
    host, port = sock.getsockname()[:2]
    if host == "0.0.0.0":  # noqa: S104 - reading the bound address, not choosing one
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _account_lines(meta: dict[str, Any]) -> list[str]:
    """The banner after READY: accounts by role, and for demo the VK ID logins."""
    lines = [f"Набор данных: {meta.get('dataset')} (seed {meta.get('seed')})"]
    accounts = meta.get("accounts") or []
    if accounts:
        lines.append("Учётные записи ЭШ (роль, имя пользователя / пароль, ФИО):")
        for a in accounts:
            lines.append(
                f"  {a.get('role', ''):<8} {a.get('username')} / {a.get('password')}"
                f"  {a.get('full_name', '')}"
            )
    vk_logins = meta.get("vk_logins") or []
    if meta.get("dataset") == "demo" and vk_logins:
        lines.append("Вход в VK ID (вариант из руководства: телефон / пароль, чей):")
        for v in vk_logins:
            password = v.get("password") or "без пароля"
            who = v.get("who") or v.get("full_name") or ""
            esh = f"  (ЭШ: {v['username']})" if v.get("username") else ""
            lines.append(f"  вариант {v.get('path')}: {v.get('phone')} / {password}  {who}{esh}")
    return lines


def _stop_on_sigterm() -> None:
    """SIGTERM stops the server like Ctrl+C: uvicorn re-raises it after a graceful shutdown,
    and this handler turns that into a KeyboardInterrupt that `main` treats as a clean exit."""

    def _interrupt(_sig: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sandbox until SIGINT/SIGTERM; the exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if not is_loopback(args.host):
        print(
            f"ВНИМАНИЕ: песочница слушает {args.host}: она доступна из сети, а её "
            "/sandbox/dev не требует входа.",
            file=sys.stderr,
        )
    try:
        sock = _bind(args.host, args.port)
    except OSError as error:
        print(f"Не удалось открыть {args.host}:{args.port}: {error}", file=sys.stderr)
        return 2
    _stop_on_sigterm()
    try:
        return _serve(args, sock)
    except KeyboardInterrupt:
        return 0
    finally:
        sock.close()


def _serve(args: argparse.Namespace, sock: socket.socket) -> int:
    import asyncio

    import uvicorn

    from sferum_desktop.sandbox.app import create_app
    from sferum_desktop.sandbox.common import SandboxState
    from sferum_desktop.sandbox.db import DB_NAME, open_or_create, read_meta
    from sferum_desktop.sandbox.faults import Faults, set_faults

    data_dir: Path = args.data or default_data_dir()
    engine = open_or_create(data_dir / DB_NAME, args.dataset, args.seed)
    meta = read_meta(engine)
    state = SandboxState(engine=engine, data_dir=data_dir, dataset=args.dataset, seed=args.seed)
    try:
        set_faults(state, Faults.model_validate(meta.get("faults") or {}), persist=False)
    except ValueError:
        log.warning("ignoring the stored faults, which this version cannot read")
    url = base_url(sock)

    def announce() -> None:
        print(f"SANDBOX READY {url}", flush=True)
        print("\n".join(_account_lines(meta)), flush=True)

    class _ReadyServer(uvicorn.Server):
        """uvicorn's server, announcing readiness once it accepts connections."""

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started and not self.should_exit:
                announce()

    config = uvicorn.Config(
        create_app(state),
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    server = _ReadyServer(config)
    try:
        asyncio.run(server.serve(sockets=[sock]))
    finally:
        state.engine.dispose()  # a reset may have replaced the engine opened here
    return 0
