"""Progress of a sync for whoever drives it (the GUI's bar, the CLI's log): done/total, ETA.

The time left is estimated from what the operations cost: Sferum member changes go 25 to a
request at the API's 3 requests per second (≈ 1/70 s each, whatever else happens), registry
calls take a round trip each for a group of members. The model's estimate is then scaled by
how fast the run has actually gone so far, so the figure settles as the run proceeds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from sferum_desktop.domain import (
    AddRegistryMember,
    AddSferumMember,
    CreateRegistryChat,
    CreateSferumChat,
    Operation,
    RemoveRegistryMember,
    RemoveSferumMember,
)

# Seconds an operation is expected to take, by kind (see the module docstring).
_COST: Final[dict[type, float]] = {
    CreateRegistryChat: 0.05,
    RemoveRegistryMember: 0.004,
    AddRegistryMember: 0.004,
    CreateSferumChat: 0.05,
    RemoveSferumMember: 1 / 70,
    AddSferumMember: 1 / 70,
}


class Phase(StrEnum):
    FETCH = "fetch"  # reading the roster, the registry and the Sferum chats
    RESUME = "resume"  # finishing what a crashed run left behind
    PLAN = "plan"
    APPLY = "apply"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a sync is: its phase, operations done (or failed) of the total, time left."""

    phase: Phase
    done: int = 0
    failed: int = 0
    total: int = 0
    elapsed_s: float = 0.0
    eta_s: float | None = None  # seconds left, None while unknown
    message: str = ""

    @property
    def fraction(self) -> float:
        return (self.done + self.failed) / self.total if self.total else 0.0


ProgressCallback = Callable[[Progress], object]


def operation_cost(op: Operation) -> float:
    return _COST.get(type(op), 0.01)


class ProgressTracker:
    """Counts operations as they finish and reports `Progress` to a callback."""

    def __init__(
        self,
        callback: ProgressCallback | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        min_interval: float = 0.1,
    ) -> None:
        self._callback = callback
        self._clock = clock
        self._min_interval = min_interval
        self._started = clock()
        self._phase = Phase.FETCH
        self._apply_started: float | None = None
        self._total = 0
        self._done = 0
        self._failed = 0
        self._expected = 0.0  # model seconds of the whole apply
        self._spent = 0.0  # model seconds of what finished
        self._last_report = -1.0

    @property
    def done(self) -> int:
        return self._done

    @property
    def failed(self) -> int:
        return self._failed

    def phase(self, phase: Phase, message: str = "") -> None:
        self._phase = phase
        self._emit(message, force=True)

    def start_apply(self, operations: Iterable[Operation]) -> None:
        ops = list(operations)
        self._phase = Phase.APPLY
        self._apply_started = self._clock()
        self._total = len(ops)
        self._done = self._failed = 0
        self._expected = sum(operation_cost(op) for op in ops)
        self._spent = 0.0
        self._emit(force=True)

    def finished(self, ops: Iterable[Operation], *, failed: bool = False) -> None:
        """These operations are over (done, or failed when `failed`)."""
        for op in ops:
            self._spent += operation_cost(op)
            if failed:
                self._failed += 1
            else:
                self._done += 1
        self._emit()

    def eta(self) -> float | None:
        if self._apply_started is None or self._total == 0:
            return None
        remaining = max(0.0, self._expected - self._spent)
        if remaining == 0:
            return 0.0
        elapsed = self._clock() - self._apply_started
        if self._spent <= 0 or elapsed <= 0:
            return remaining
        return remaining * (elapsed / self._spent)

    def snapshot(self, message: str = "") -> Progress:
        return Progress(
            phase=self._phase,
            done=self._done,
            failed=self._failed,
            total=self._total,
            elapsed_s=self._clock() - self._started,
            eta_s=self.eta() if self._phase is Phase.APPLY else None,
            message=message,
        )

    def _emit(self, message: str = "", *, force: bool = False) -> None:
        if self._callback is None:
            return
        now = self._clock()
        finished = self._done + self._failed >= self._total
        if not force and not finished and now - self._last_report < self._min_interval:
            return
        self._last_report = now
        self._callback(self.snapshot(message))
