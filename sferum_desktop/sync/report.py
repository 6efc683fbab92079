"""What a sync did, as the CLI prints it (cli.md's JSON) and the GUI shows it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sferum_desktop.api.errors import ApiError
from sferum_desktop.domain import (
    ChatKey,
    Operation,
    Plan,
    RosterEvent,
    summary,
)

EMPTY_SUMMARY = {"create_chats": 0, "add": 0, "remove": 0, "pending": 0, "held": 0}


def error_code(error: BaseException) -> str:
    """A short, log-safe code of a failure: the VK or ESh error code, else its class."""
    if isinstance(error, ApiError):
        code = getattr(error, "error_code", None)
        if code is not None:
            return f"{error.service.key}:{code}"
        if error.code:
            return f"{error.service.key}:{error.code}"
        if error.status is not None:
            return f"{error.service.key}:http{error.status}"
        return f"{error.service.key}:{type(error).__name__}"
    return type(error).__name__


def error_message(error: BaseException) -> str:
    if isinstance(error, ApiError):
        return error.user_message
    return str(error) or type(error).__name__


@dataclass(frozen=True, slots=True)
class FailedOperation:
    """An operation that was not applied, and why (`code`, and `message` in Russian)."""

    op: Operation
    code: str
    message: str
    chat_name: str | None = None

    def as_dict(self) -> dict[str, Any]:
        op = self.op
        data: dict[str, Any] = {
            "op": op.kind,
            "op_id": op.op_id,
            "chat": str(op.chat_key),
            "chat_name": self.chat_name,
            "code": self.code,
            "error": self.message,
        }
        for name in ("person_id", "vk_user_id"):
            value = getattr(op, name, None)
            if value is not None:
                data[name] = value
        return data


def counts(ops: list[Operation]) -> dict[str, int]:
    """`{create_chats, add, remove}` of operations (cli.md's `applied`)."""
    kinds = Counter(op.kind for op in ops)
    return {
        "create_chats": kinds["create_registry_chat"] + kinds["create_sferum_chat"],
        "add": kinds["add_registry_member"] + kinds["add_sferum_member"],
        "remove": kinds["remove_registry_member"] + kinds["remove_sferum_member"],
    }


@dataclass
class SyncReport:
    """One run: its plan, what was applied and what failed, and how it ended."""

    plan: Plan | None = None
    applied: list[Operation] = field(default_factory=list)
    failed: list[FailedOperation] = field(default_factory=list)
    not_applied: list[Operation] = field(default_factory=list)  # cancelled or stopped early
    resumed: list[Operation] = field(default_factory=list)  # finished after a crash
    events: list[RosterEvent] = field(default_factory=list)
    skipped_chats: dict[ChatKey, str] = field(default_factory=dict)  # Sferum part not planned
    duration_s: float = 0.0
    dry_run: bool = False
    confirm_held: bool = False
    cancelled: bool = False
    stop: str | None = None  # "captcha", "sign_in" when the run had to stop
    error: BaseException | None = None  # the run could not plan (fetch failed, ...)
    run_id: int | None = None

    @property
    def held(self) -> bool:
        """The plan holds removals for an administrator's confirmation (nothing applied)."""
        return self.plan is not None and bool(self.plan.held) and not self.confirm_held

    @property
    def sign_in_needed(self) -> bool:
        return self.stop == "sign_in"

    @property
    def ok(self) -> bool:
        return (
            self.error is None
            and not self.failed
            and not self.not_applied
            and not self.cancelled
            and self.stop is None
        )

    def as_json(self) -> dict[str, Any]:
        """cli.md: `{"plan": {...}, "applied": {...}, "failed": [...], "duration_s"}` and more."""
        data: dict[str, Any] = {
            "plan": summary(self.plan) if self.plan is not None else dict(EMPTY_SUMMARY),
            "applied": counts(self.applied),
            "failed": [f.as_dict() for f in self.failed],
            "duration_s": round(self.duration_s, 3),
        }
        if self.dry_run:
            data["dry_run"] = True
        if self.plan is not None and self.plan.held:
            data["holds"] = [
                {
                    "chat": str(hold.chat_key) if hold.chat_key is not None else None,
                    "scope": hold.scope.value,
                    "removals": hold.removals,
                    "members": hold.members,
                    "message": hold.message,
                }
                for hold in self.plan.held
            ]
            data["confirmed"] = self.confirm_held
        if self.resumed:
            data["resumed"] = counts(self.resumed)
        if self.not_applied:
            data["not_applied"] = len(self.not_applied)
        if self.cancelled:
            data["cancelled"] = True
        if self.stop is not None:
            data["stopped"] = self.stop
        if self.skipped_chats:
            data["skipped_chats"] = {str(k): v for k, v in self.skipped_chats.items()}
        if self.events:
            data["events"] = dict(Counter(e.kind.value for e in self.events))
        if self.error is not None:
            data["error"] = {"code": error_code(self.error), "message": error_message(self.error)}
        return data
