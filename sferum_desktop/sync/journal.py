"""The store seen from the async sync: every call runs in one worker thread, in order.

SQLite calls block; the GUI's event loop must not. One thread for all of them keeps the
journal's writes in the order they were asked for (an entry is `sent` before its request
leaves, `done` after its answer), and an awaiting task that is cancelled does not cancel a
write already handed to the thread.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from sferum_desktop.store import Store

P = ParamSpec("P")
T = TypeVar("T")


class AsyncStore:
    """`await db.call(store.method, ...)`: the store's methods, off the event loop."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sferum-store")

    async def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        self._executor.shutdown(wait=True)
