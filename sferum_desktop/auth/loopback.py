"""A one-shot loopback HTTP listener for sign-ins in the system browser (RFC 8252 §7.3).

When an embedded web view is refused, the app opens VK ID in the system browser with
`redirect_uri=http://127.0.0.1:<random port>/vkid/callback`; this listener takes that one
redirect, answers a small «Можно вернуться в приложение» page, and hands the URL over.
It listens on 127.0.0.1 only and never logs the query (it carries the code and state).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

log = logging.getLogger("sferum_desktop.auth.loopback")

_PAGE: Final = """<!DOCTYPE html>
<html lang="ru"><head><meta charset="utf-8"><title>Sferum Desktop</title>
<style>body{font-family:sans-serif;background:#ebedf0;display:flex;justify-content:center;
padding-top:80px}div{background:#fff;border-radius:12px;padding:28px 36px;max-width:420px;
text-align:center}h1{font-size:20px}</style></head>
<body><div><h1>Можно вернуться в приложение</h1>
<p>Вход через VK ID получен. Закройте эту вкладку и вернитесь в Sferum Desktop.</p></div>
</body></html>"""
_MAX_HEAD: Final = 16 * 1024


class ListenerClosed(Exception):
    """The listener was closed before the browser delivered the redirect."""


class LoopbackReceiver:
    """Waits for one browser redirect to `http://127.0.0.1:<port><path>`."""

    def __init__(self, path: str = "/vkid/callback", *, host: str = "127.0.0.1") -> None:
        self.path = path
        self.host = host
        self._server: asyncio.Server | None = None
        self._result: asyncio.Future[str] | None = None
        self.port: int | None = None

    @property
    def redirect_uri(self) -> str:
        """The redirect URI to register in the authorization request."""
        if self.port is None:
            raise RuntimeError("the listener is not started")
        return f"http://{self.host}:{self.port}{self.path}"

    async def start(self) -> str:
        """Listen on a free port; the redirect URI."""
        self._result = asyncio.get_running_loop().create_future()
        self._server = await asyncio.start_server(self._handle, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("listening for the browser's redirect on a loopback port")
        return self.redirect_uri

    async def wait(self) -> str:
        """The full redirect URL, once the browser has delivered it."""
        if self._result is None:
            raise RuntimeError("the listener is not started")
        return await asyncio.shield(self._result)

    async def close(self) -> None:
        """Stop listening; a waiter still waiting gets `ListenerClosed`."""
        if self._result is not None and not self._result.done():
            self._result.set_exception(ListenerClosed())
            self._result.exception()  # retrieved: no "never retrieved" warning if none waits
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            writer.close()
            return
        if len(head) > _MAX_HEAD:
            writer.close()
            return
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split(" ")
        target = parts[1] if len(parts) == 3 else ""
        path = target.split("?", 1)[0]
        if parts[0] != "GET" or path != self.path:
            await self._answer(writer, 404, "Not found")
            return
        if self._result is not None and not self._result.done():
            self._result.set_result(f"http://{self.host}:{self.port}{target}")
        await self._answer(writer, 200, _PAGE)

    @staticmethod
    async def _answer(writer: asyncio.StreamWriter, status: int, body: str) -> None:
        data = body.encode("utf-8")
        reason = "OK" if status == 200 else "Not Found"
        writer.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Content-Length: {len(data)}\r\nCache-Control: no-store\r\n"
            "Referrer-Policy: no-referrer\r\nConnection: close\r\n\r\n".encode("ascii")
            + data
        )
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
