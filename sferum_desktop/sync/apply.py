"""Applying a plan to ESh and Sferum, journaled, batched, at the rate limit, crash-safe.

Every operation is journaled `pending` before anything is sent, marked `sent` just before the
request that carries it goes out, and `done` (with its audit entry, in the same transaction)
or `failed` when its answer is in. Two pipelines run side by side:

- **registry** (ESh): automatic chats created (a repeat after a lost answer meets ESh's 409
  `duplicate`, whose `chat_id` is adopted), members removed per chat under `If-Match` (a 412
  means someone edited the chat meanwhile: it is read again, planned again, and only what
  is still to go is removed), members added per chat and tab (idempotent; a 422 for one
  person is narrowed down to that person by adding one by one);
- **Sferum**: once the registry chats exist, the missing Sferum chats are created (up to 25
  per `execute`), each chat's id journaled the moment it is known and then written to the
  registry (`PUT /chats/{id}/sferum`); then member changes, 25 per `execute`, by two workers
  that share the client's rate limiter (3 requests/s per token, no error 6).

Failures are handled call by call: a call that failed for a transient reason (a cut
connection, a server error, flood control) is tried again in a later round with backoff; a
refusal (not in the organization, not the chat's admin, …) is recorded as failed with its
error; «not a member» on a removal counts as done. A `createChat` whose answer was lost may
have made the chat: before it is sent again, the account's conversations are searched for an
unassigned chat with exactly that title, and one found is adopted instead — so a chat is
never created twice. A captcha goes to the client's handler (the GUI's dialog); with none,
or when the sign-in has ended, the run stops: what was not sent is marked failed, so a rerun
does it. Cancelling stops at the next batch boundary: a batch in flight is finished and
journaled, a created chat is always written to the registry before the run returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from sferum_desktop.api import esh_models
from sferum_desktop.api.errors import (
    ApiError,
    Conflict,
    MalformedResponse,
    NetworkError,
    NotFound,
    RateLimited,
    ServerError,
    Unauthorized,
    ValidationFailed,
)
from sferum_desktop.api.esh import EshClient, VersionConflict
from sferum_desktop.api.sferum import (
    CaptchaNeeded,
    FloodControl,
    MethodCall,
    Result,
    SferumClient,
    TokenInvalid,
    UserNotInChat,
)
from sferum_desktop.domain import (
    AddRegistryMember,
    AddSferumMember,
    ChatKey,
    CreateRegistryChat,
    CreateSferumChat,
    MemberRole,
    MemberSource,
    Operation,
    RemoveRegistryMember,
    RemoveSferumMember,
    Thresholds,
    plan,
)
from sferum_desktop.store import AuditEntry, JournalState, NewJournalEntry, Outcome, Store
from sferum_desktop.sync.journal import AsyncStore
from sferum_desktop.sync.progress import ProgressTracker
from sferum_desktop.sync.remote import find_orphan_chats, my_vk_id, registry_chat
from sferum_desktop.sync.report import FailedOperation, error_code, error_message
from sferum_desktop.sync.world import World

log = logging.getLogger("sferum_desktop.sync.apply")

T = TypeVar("T")

BATCH: Final = 25  # calls per `execute`
ADD_GROUP: Final = 200  # people per registry `POST …/members`
TRANSIENT_VK_CODES: Final = frozenset({1, 6, 9, 10})

# Journal error codes of the sync itself (API errors are "<service>:<code>").
MAYBE_CREATED: Final = "maybe_created"  # a createChat whose outcome is unknown
INTERRUPTED: Final = "interrupted"  # left open by a crashed run
CANCELLED: Final = "cancelled"
NO_REGISTRY_CHAT: Final = "no_registry_chat"
NO_SFERUM_CHAT: Final = "no_sferum_chat"
REGISTRY_NOT_UPDATED: Final = "registry_not_updated"


class StopApply(Exception):
    """The run cannot go on: a captcha with no one to answer it, or the sign-in has ended."""

    def __init__(self, kind: str, error: ApiError) -> None:
        self.kind = kind  # "captcha" | "sign_in"
        self.error = error
        super().__init__(f"{kind}: {type(error).__name__}")


def _is_transient(error: ApiError) -> bool:
    if isinstance(error, NetworkError | ServerError | RateLimited | MalformedResponse):
        return True
    return getattr(error, "error_code", None) in TRANSIENT_VK_CODES


def _maybe_processed(error: ApiError) -> bool:
    """Whether a failed non-idempotent request may have been carried out all the same."""
    if isinstance(error, NetworkError):
        return error.maybe_processed
    if isinstance(error, ServerError):
        return error.status != 503
    return isinstance(error, MalformedResponse)


def _halt_kind(error: ApiError) -> str | None:
    if isinstance(error, CaptchaNeeded):
        return "captcha"
    if isinstance(error, TokenInvalid | Unauthorized):
        return "sign_in"
    return None


@dataclass(eq=False)
class _Item:
    op: Operation
    entry: int
    last_error: ApiError | None = None


@dataclass
class ApplyResult:
    done: list[Operation] = field(default_factory=list)
    failed: list[FailedOperation] = field(default_factory=list)
    not_applied: list[Operation] = field(default_factory=list)
    stop: StopApply | None = None


class Applier:
    """Applies one plan's operations for one run (see the module docstring)."""

    def __init__(
        self,
        *,
        esh: EshClient,
        sferum: SferumClient,
        db: AsyncStore,
        run_id: int,
        actor: str,
        world: World,
        thresholds: Thresholds,
        tracker: ProgressTracker,
        cancel: asyncio.Event,
        esh_concurrency: int = 4,
        sferum_workers: int = 2,
        batch_size: int = BATCH,
        rounds: int = 6,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        rng: random.Random | None = None,
    ) -> None:
        self.esh = esh
        self.sferum = sferum
        self.db = db
        self.store: Store = db.store
        self.run_id = run_id
        self.actor = actor
        self.world = world
        self.thresholds = thresholds
        self.tracker = tracker
        self.cancel = cancel
        self.esh_concurrency = esh_concurrency
        self.sferum_workers = sferum_workers
        if not 1 <= batch_size <= BATCH:
            raise ValueError(f"batch_size must be within 1..{BATCH}")
        self.batch_size = batch_size  # 1: one call per request (the benchmark's baseline)
        self.rounds = rounds
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.rng = rng or random.Random()
        self.result = ApplyResult()
        self._closed: set[int] = set()
        self._left_open: set[int] = set()
        self._halt: StopApply | None = None
        self._registry_created = asyncio.Event()
        self._owner: int | None = None
        self._owner_known = False
        # Registry chat ids, versions and Sferum chat ids as this run learns them.
        self.chat_ids: dict[ChatKey, int] = {}
        self.sferum_ids: dict[ChatKey, int] = {}
        self.versions: dict[int, int] = {}
        for key, item in world.registry.chats.items():
            if item.chat.id is not None:
                self.chat_ids[key] = item.chat.id
                self.versions[item.chat.id] = item.chat.version
            if item.chat.sferum_chat_id is not None:
                self.sferum_ids[key] = item.chat.sferum_chat_id

    # --- the run ----------------------------------------------------------------------------

    async def apply(self, operations: Sequence[Operation]) -> ApplyResult:
        """Journal the operations, apply them, and say what became of each."""
        ops = list(operations)
        entries = await self.db.call(
            self.store.journal_add,
            self.run_id,
            [NewJournalEntry(op.op_id, op.kind, str(op.chat_key), op.as_dict()) for op in ops],
        )
        items = [_Item(op, entry) for op, entry in zip(ops, entries, strict=True)]
        self.tracker.start_apply(ops)
        log.info("applying %d operations (run %d)", len(ops), self.run_id)
        by_kind: dict[type, list[_Item]] = {}
        for item in items:
            by_kind.setdefault(type(item.op), []).append(item)
        async with asyncio.TaskGroup() as group:
            group.create_task(
                self._registry(
                    by_kind.get(CreateRegistryChat, []),
                    by_kind.get(RemoveRegistryMember, []),
                    by_kind.get(AddRegistryMember, []),
                )
            )
            group.create_task(
                self._sferum_side(
                    by_kind.get(CreateSferumChat, []),
                    by_kind.get(RemoveSferumMember, []) + by_kind.get(AddSferumMember, []),
                )
            )
        await self._close_remaining(items)
        self.result.stop = self._halt
        return self.result

    def _stopping(self) -> bool:
        return self._halt is not None or self.cancel.is_set()

    def _halt_with(self, kind: str, error: ApiError) -> None:
        if self._halt is None:
            log.warning("stopping the apply: %s (%s)", kind, type(error).__name__)
            self._halt = StopApply(kind, error)

    async def _pause(self, seconds: float) -> None:
        """Wait, but not past a cancellation."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.cancel.wait(), timeout=seconds)

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.backoff_max, self.backoff_base * (2**attempt))
        return self.rng.uniform(ceiling / 2, ceiling)

    async def _close_remaining(self, items: Sequence[_Item]) -> None:
        """What never got its answer: failed with why (cancelled, captcha, sign-in)."""
        remaining = [
            i for i in items if i.entry not in self._closed and i.entry not in self._left_open
        ]
        if not remaining:
            return
        if self._halt is not None:
            code, message = self._halt.kind, error_message(self._halt.error)
        else:
            code, message = CANCELLED, "Синхронизация остановлена до отправки."
        await self.db.call(
            self.store.journal_update,
            [
                Outcome(i.entry, JournalState.FAILED, error_code=code, error=message)
                for i in remaining
            ],
        )
        self.result.not_applied.extend(i.op for i in remaining)
        self.tracker.finished((i.op for i in remaining), failed=True)

    # --- journal helpers --------------------------------------------------------------------

    async def _sent(self, items: Sequence[_Item]) -> None:
        await self.db.call(self.store.journal_mark_sent, [i.entry for i in items])

    def _audit(
        self, op: Operation, *, details: dict[str, Any] | None = None, **known: Any
    ) -> AuditEntry:
        key = op.chat_key
        return self.world.audit_entry(
            op,
            actor=self.actor,
            run_id=self.run_id,
            chat_id=known.get("chat_id", self.chat_ids.get(key)),
            sferum_chat_id=known.get("sferum_chat_id", self.sferum_ids.get(key)),
            chat_name=known.get("chat_name"),
            details=details,
        )

    async def _finish(
        self,
        done: Sequence[tuple[_Item, AuditEntry | None, dict[str, Any] | None]] = (),
        failed: Sequence[tuple[_Item, str, str]] = (),
    ) -> None:
        """Close entries as done (with their audit entries) or failed, in one transaction."""
        outcomes = [Outcome(i.entry, JournalState.DONE, result=result) for i, _, result in done]
        outcomes += [
            Outcome(i.entry, JournalState.FAILED, error_code=code, error=message)
            for i, code, message in failed
        ]
        audit = [entry for _, entry, _ in done if entry is not None]
        await self.db.call(self.store.journal_update, outcomes, audit, self.run_id)
        for item, _, _ in done:
            self._closed.add(item.entry)
            self.result.done.append(item.op)
        for item, code, message in failed:
            self._closed.add(item.entry)
            self.result.failed.append(
                FailedOperation(item.op, code, message, self.world.chat_name(item.op.chat_key))
            )
        if done:
            self.tracker.finished(i.op for i, _, _ in done)
        if failed:
            self.tracker.finished((i.op for i, _, _ in failed), failed=True)

    async def _fail(self, items: Sequence[_Item], error: ApiError | str, message: str = "") -> None:
        if isinstance(error, ApiError):
            code, text = error_code(error), error_message(error)
        else:
            code, text = error, message
        await self._finish(failed=[(i, code, text) for i in items])

    async def _units(self, units: Sequence[Callable[[], Awaitable[None]]], limit: int) -> None:
        """Run units of work, `limit` at a time; none starts once the run is stopping."""
        gate = asyncio.Semaphore(limit)

        async def run(unit: Callable[[], Awaitable[None]]) -> None:
            async with gate:
                if self._stopping():
                    return
                await unit()

        await asyncio.gather(*(run(u) for u in units))

    async def _esh(self, call: Callable[[], Awaitable[T]]) -> T:
        """An ESh call, tried again on transient faults (beyond the client's own retries)."""
        attempt = 0
        while True:
            try:
                return await call()
            except ApiError as exc:
                if isinstance(exc, Unauthorized):
                    self._halt_with("sign_in", exc)
                    raise
                if not _is_transient(exc) or attempt >= 2 or self._stopping():
                    raise
                await self._pause(self._backoff(attempt))
                attempt += 1

    def _chat_id(self, key: ChatKey, given: int | None) -> int | None:
        return given if given is not None else self.chat_ids.get(key)

    # --- registry ---------------------------------------------------------------------------

    async def _registry(
        self,
        creates: list[_Item],
        removes: list[_Item],
        adds: list[_Item],
    ) -> None:
        try:
            await self._units(
                [functools.partial(self._create_registry_chat, item) for item in creates],
                self.esh_concurrency,
            )
        finally:
            self._registry_created.set()
        by_chat: dict[ChatKey, list[_Item]] = {}
        for item in removes:
            by_chat.setdefault(item.op.chat_key, []).append(item)
        await self._units(
            [functools.partial(self._remove_members, k, group) for k, group in by_chat.items()],
            self.esh_concurrency,
        )
        groups: dict[tuple[ChatKey, MemberRole, MemberSource], list[_Item]] = {}
        for item in adds:
            op = item.op
            assert isinstance(op, AddRegistryMember)
            groups.setdefault((op.chat_key, op.role_in_chat, op.source), []).append(item)
        units: list[Callable[[], Awaitable[None]]] = []
        for (key, role, source), group in groups.items():
            for start in range(0, len(group), ADD_GROUP):
                part = group[start : start + ADD_GROUP]
                units.append(functools.partial(self._add_members, key, role, source, part))
        await self._units(units, self.esh_concurrency)

    async def _create_registry_chat(self, item: _Item) -> None:
        op = item.op
        assert isinstance(op, CreateRegistryChat)
        chat = op.chat
        await self._sent([item])
        made: esh_models.Chat | None = None
        existed = False
        error: ApiError | None = None
        for attempt in range(3):
            try:
                made = await self.esh.create_chat(
                    type=chat.type.value,
                    name=chat.name,
                    school_id=chat.school_id,
                    class_id=chat.class_id,
                    group_id=chat.group_id,
                    admin_person_id=chat.admin_person_id,
                )
                break
            except Conflict as exc:
                found = exc.details.get("chat_id")
                if not isinstance(found, int):
                    error = exc
                    break
                try:
                    made = await self._esh(functools.partial(self.esh.get_chat, found))
                except ApiError as read_error:
                    error = read_error
                    break
                # On a first attempt the chat was there before us; after a lost answer it is
                # most likely the one our earlier attempt made.
                existed = attempt == 0
                break
            except Unauthorized as exc:
                self._halt_with("sign_in", exc)
                return
            except ApiError as exc:
                error = exc
                if not _is_transient(exc) or self._stopping():
                    break
                # A repeat is safe: ESh refuses a second automatic chat of a class (409).
                await self._pause(self._backoff(attempt))
        if made is None:
            assert error is not None
            await self._fail([item], error)
            return
        self.chat_ids[op.chat_key] = made.id
        self.versions[made.id] = made.version
        if made.sferum_chat_id is not None:
            self.sferum_ids[op.chat_key] = made.sferum_chat_id
        audit = None if existed else self._audit(op, chat_id=made.id, chat_name=made.name)
        await self._finish(done=[(item, audit, {"chat_id": made.id, "existed": existed})])

    def _still_to_remove(
        self, key: ChatKey, chat: esh_models.Chat, members: Sequence[esh_models.Member]
    ) -> set[str]:
        """Plan one chat again from a fresh read: who is still to be removed from it."""
        fresh = registry_chat(chat, members)
        if fresh is None:
            return set()
        self.world.registry = self.world.registry.replace({key: fresh})
        again = plan(
            self.world.snapshot,
            self.world.registry,
            self.world.sferum,
            self.thresholds,
            confirm_held=True,
            only_chats=[key],
            events=self.world.index,
        )
        return {op.person_id for op in again.operations if isinstance(op, RemoveRegistryMember)}

    async def _remove_members(self, key: ChatKey, items: list[_Item]) -> None:
        first = items[0].op
        assert isinstance(first, RemoveRegistryMember)
        chat_id = self._chat_id(key, first.chat_id)
        if chat_id is None:
            await self._fail(items, NO_REGISTRY_CHAT, "Чат реестра не найден.")
            return
        await self._sent(items)
        todo = {i.op.person_id: i for i in items if isinstance(i.op, RemoveRegistryMember)}
        done: list[tuple[_Item, AuditEntry | None, dict[str, Any] | None]] = []
        version = self.versions.get(chat_id)
        for _ in range(4):
            try:
                answer = await self._esh(
                    functools.partial(
                        self.esh.remove_members, chat_id, list(todo), exclude=False, version=version
                    )
                )
            except VersionConflict as exc:
                # Someone changed the chat since it was read: read it again, plan it again.
                try:
                    members = await self._esh(
                        functools.partial(self.esh.list_members, chat_id, include_excluded=True)
                    )
                except ApiError as read_error:
                    await self._finish(done=done)
                    await self._fail(list(todo.values()), read_error)
                    return
                still = self._still_to_remove(key, exc.current, members)
                present = {m.person_id for m in members if not m.excluded}
                landed = version is not None and exc.current.version == version + 1
                for person_id in [p for p in todo if p not in still]:
                    item = todo.pop(person_id)
                    # Gone after one more version: our earlier attempt whose answer was lost.
                    ours = landed and person_id not in present
                    done.append((item, self._audit(item.op) if ours else None, None))
                version = exc.current.version
                self.versions[chat_id] = version
                if not todo:
                    break
                continue
            except NotFound as exc:
                await self._finish(done=done)
                await self._fail(list(todo.values()), exc)
                return
            except ApiError as exc:
                await self._finish(done=done)
                if self._halt is not None:
                    return
                await self._fail(list(todo.values()), exc)
                return
            removed = set(answer.removed)
            self.versions[chat_id] = answer.version
            for person_id, item in todo.items():
                audit = self._audit(item.op, chat_id=chat_id) if person_id in removed else None
                done.append((item, audit, None))
            todo = {}
            break
        await self._finish(done=done)
        if todo:
            await self._fail(
                list(todo.values()), "version_conflict", "Чат изменяется другим пользователем."
            )

    async def _add_members(
        self, key: ChatKey, role: MemberRole, source: MemberSource, items: list[_Item]
    ) -> None:
        first = items[0].op
        assert isinstance(first, AddRegistryMember)
        chat_id = self._chat_id(key, first.chat_id)
        if chat_id is None:
            await self._fail(items, NO_REGISTRY_CHAT, "Чат реестра не был создан.")
            return
        await self._sent(items)
        people = [i.op.person_id for i in items if isinstance(i.op, AddRegistryMember)]
        try:
            answer = await self._esh(
                functools.partial(self.esh.add_members, chat_id, people, role.value, source.value)
            )
        except ValidationFailed as exc:
            if len(items) == 1:
                await self._fail(items, exc)
                return
            # Someone in the group is refused (no longer of the school): one by one.
            for item in items:
                if self._stopping():
                    return
                await self._add_members(key, role, source, [item])
            return
        except ApiError as exc:
            if self._halt is None:
                await self._fail(items, exc)
            return
        added = set(answer.added)
        self.versions[chat_id] = answer.version
        await self._finish(
            done=[
                (
                    item,
                    self._audit(item.op, chat_id=chat_id) if people[n] in added else None,
                    None,
                )
                for n, item in enumerate(items)
            ]
        )

    # --- Sferum -----------------------------------------------------------------------------

    async def _sferum_side(self, creates: list[_Item], members: list[_Item]) -> None:
        await self._registry_created.wait()
        if creates and not self._stopping():
            await self._create_sferum_chats(creates)
        ready: list[_Item] = []
        orphaned: list[_Item] = []
        for item in members:
            op = item.op
            assert isinstance(op, AddSferumMember | RemoveSferumMember)
            if op.sferum_chat_id is not None or op.chat_key in self.sferum_ids:
                ready.append(item)
            else:
                orphaned.append(item)
        if orphaned and not self._stopping():
            await self._fail(orphaned, NO_SFERUM_CHAT, "Чат Сферума не был создан.")
        if ready:
            await self._member_rounds(ready)

    def _sferum_chat(self, op: AddSferumMember | RemoveSferumMember) -> int:
        found = op.sferum_chat_id if op.sferum_chat_id is not None else self.sferum_ids[op.chat_key]
        return found

    def _member_call(self, op: Operation) -> MethodCall:
        assert isinstance(op, AddSferumMember | RemoveSferumMember)
        chat = self._sferum_chat(op)
        if isinstance(op, AddSferumMember):
            return MethodCall.add_chat_user(chat, op.vk_user_id)
        return MethodCall.remove_chat_user(chat, op.vk_user_id)

    async def _member_rounds(self, items: list[_Item]) -> None:
        """Member changes in batches of 25, by the workers; what failed for a transient
        reason goes again in the next round, after a backoff."""
        todo = items
        log.info("changing %d Sferum memberships", len(items))
        for round_ in range(self.rounds):
            if not todo or self._stopping():
                return
            if round_:
                log.info("round %d: %d membership changes again", round_ + 1, len(todo))
                await self._pause(self._backoff(round_ - 1))
                if self._stopping():
                    return
            size = self.batch_size
            batches = [todo[i : i + size] for i in range(0, len(todo), size)]
            queue = iter(batches)
            retry: list[_Item] = []

            async def worker(retry: list[_Item] = retry, queue: Any = queue) -> None:
                for batch in queue:
                    if self._stopping():
                        return
                    retry.extend(await self._member_batch(batch))

            await asyncio.gather(*(worker() for _ in range(max(1, self.sferum_workers))))
            todo = retry
        if todo and not self._stopping():
            await self._finish(
                failed=[
                    (
                        i,
                        error_code(i.last_error) if i.last_error else "gave_up",
                        error_message(i.last_error) if i.last_error else "Не удалось выполнить.",
                    )
                    for i in todo
                ]
            )

    async def _member_batch(self, batch: list[_Item]) -> list[_Item]:
        """One `execute` of member changes; returns the items to try again."""
        await self._sent(batch)
        results = await self.sferum.batch([self._member_call(i.op) for i in batch])
        done: list[tuple[_Item, AuditEntry | None, dict[str, Any] | None]] = []
        failed: list[tuple[_Item, str, str]] = []
        retry: list[_Item] = []
        for item, result in zip(batch, results, strict=True):
            error = result.error
            if error is None:
                done.append((item, self._audit(item.op), None))
            elif isinstance(error, UserNotInChat) and isinstance(item.op, RemoveSferumMember):
                done.append((item, None, None))  # not a member: already where it should be
            elif (kind := _halt_kind(error)) is not None:
                self._halt_with(kind, error)
            elif _is_transient(error):
                item.last_error = error
                retry.append(item)
            else:
                failed.append((item, error_code(error), error_message(error)))
        await self._finish(done=done, failed=failed)
        if any(isinstance(i.last_error, FloodControl) for i in retry):
            await self._pause(self.backoff_max)
        return retry

    # --- Sferum chats -----------------------------------------------------------------------

    async def _create_sferum_chats(self, items: list[_Item]) -> None:
        log.info("creating %d Sferum chats", len(items))
        todo: list[tuple[_Item, int]] = []
        for item in items:
            op = item.op
            assert isinstance(op, CreateSferumChat)
            chat_id = self._chat_id(op.chat_key, op.chat_id)
            if chat_id is None:
                await self._fail([item], NO_REGISTRY_CHAT, "Чат реестра не был создан.")
            elif op.chat_key in self.sferum_ids:
                # The registry chat adopted after a 409 already has its Sferum chat.
                await self._finish(
                    done=[(item, None, {"sferum_chat_id": self.sferum_ids[op.chat_key]})]
                )
            else:
                todo.append((item, chat_id))
        # An earlier attempt whose outcome is unknown may have made the chat: look first.
        suspects = [pair for pair in todo if await self._tried_before(pair[0])]
        if suspects:
            found = await self._adopt_orphans(suspects)
            todo = [pair for pair in todo if pair[0].entry not in found]
        for round_ in range(self.rounds):
            if not todo or self._stopping():
                return
            if round_:
                await self._pause(self._backoff(round_ - 1))
            retry: list[tuple[_Item, int]] = []
            size = self.batch_size
            for start in range(0, len(todo), size):
                if self._stopping():
                    return
                retry.extend(await self._create_batch(todo[start : start + size]))
            todo = retry
        if todo and not self._stopping():
            await self._finish(
                failed=[
                    (
                        i,
                        MAYBE_CREATED
                        if i.last_error is not None and _maybe_processed(i.last_error)
                        else error_code(i.last_error)
                        if i.last_error
                        else "gave_up",
                        error_message(i.last_error) if i.last_error else "Не удалось выполнить.",
                    )
                    for i, _ in todo
                ]
            )

    async def _tried_before(self, item: _Item) -> bool:
        """Whether an earlier journal entry of this creation may have made the chat."""
        earlier = await self.db.call(self.store.journal, op_id=item.op.op_id)
        return any(
            e.id != item.entry
            and e.state is not JournalState.DONE
            and e.error_code in (MAYBE_CREATED, INTERRUPTED)
            and not (e.result or {}).get("sferum_chat_id")
            for e in earlier
        )

    async def _create_batch(self, batch: list[tuple[_Item, int]]) -> list[tuple[_Item, int]]:
        items = [i for i, _ in batch]
        await self._sent(items)
        calls = []
        for item in items:
            op = item.op
            assert isinstance(op, CreateSferumChat)
            calls.append(MethodCall.create_chat(op.title))
        results: list[Result] = await self.sferum.batch(calls)
        made: list[tuple[_Item, int, int]] = []
        unknown: list[tuple[_Item, int]] = []
        retry: list[tuple[_Item, int]] = []
        failed: list[tuple[_Item, str, str]] = []
        for (item, chat_id), result in zip(batch, results, strict=True):
            error = result.error
            if error is None:
                try:
                    made.append((item, chat_id, int(result.value)))
                except (TypeError, ValueError):
                    item.last_error = MalformedResponse(reason="createChat answered no chat id")
                    unknown.append((item, chat_id))
            elif (kind := _halt_kind(error)) is not None:
                self._halt_with(kind, error)
            elif _maybe_processed(error):
                item.last_error = error
                unknown.append((item, chat_id))
            elif _is_transient(error):
                item.last_error = error
                retry.append((item, chat_id))
            else:
                failed.append((item, error_code(error), error_message(error)))
        if failed:
            await self._finish(failed=failed)
        if made:
            # The ids first, at once: from here a crash cannot lose a created chat.
            await self.db.call(
                self.store.journal_set_results,
                {item.entry: {"sferum_chat_id": s, "chat_id": c} for item, c, s in made},
            )
            await self._attach_all(made, adopted=False)
        if unknown:
            log.warning("%d chat creation(s) may have landed; looking them up", len(unknown))
            found = await self._adopt_orphans(unknown)
            retry.extend(pair for pair in unknown if pair[0].entry not in found)
        return retry

    async def _owner_id(self) -> int | None:
        if not self._owner_known:
            self._owner = await my_vk_id(self.sferum)
            self._owner_known = True
        return self._owner

    async def _adopt_orphans(self, pairs: list[tuple[_Item, int]]) -> set[int]:
        """Adopt chats made by an attempt whose answer was lost; the entries adopted."""
        try:
            assigned = {
                c.sferum_chat_id
                async for c in self.esh.iter_chats(page_size=500)
                if c.sferum_chat_id is not None
            }
            assigned |= set(self.sferum_ids.values())
            titles = set()
            for item, _ in pairs:
                assert isinstance(item.op, CreateSferumChat)
                titles.add(item.op.title)
            orphans = await find_orphan_chats(self.sferum, titles, assigned, await self._owner_id())
        except ApiError as exc:
            log.warning("could not look for chats made earlier (%s)", type(exc).__name__)
            kind = _halt_kind(exc)
            if kind is not None:
                self._halt_with(kind, exc)
            # Not knowing, do not create again in this run.
            await self._fail([i for i, _ in pairs], MAYBE_CREATED, error_message(exc))
            return {i.entry for i, _ in pairs}
        adopted: list[tuple[_Item, int, int]] = []
        for item, chat_id in pairs:
            assert isinstance(item.op, CreateSferumChat)
            candidates = orphans.get(item.op.title)
            if candidates:
                adopted.append((item, chat_id, candidates.pop(0)))
        if adopted:
            log.info("adopting %d Sferum chat(s) made by an earlier attempt", len(adopted))
            await self.db.call(
                self.store.journal_set_results,
                {
                    item.entry: {"sferum_chat_id": s, "chat_id": c, "adopted": True}
                    for item, c, s in adopted
                },
            )
            await self._attach_all(adopted, adopted=True)
        return {item.entry for item, _, _ in adopted}

    async def _attach_all(self, made: list[tuple[_Item, int, int]], *, adopted: bool) -> None:
        """Write the Sferum chat ids into the registry; always finishes (never half-done)."""
        for item, _, sferum_chat_id in made:
            self.sferum_ids[item.op.chat_key] = sferum_chat_id
        gate = asyncio.Semaphore(self.esh_concurrency)

        async def attach(item: _Item, chat_id: int, sferum_chat_id: int) -> None:
            async with gate:
                await self._attach(item, chat_id, sferum_chat_id, adopted=adopted)

        # Shielded: a created chat gets its registry entry even when the run is cancelled.
        await asyncio.shield(asyncio.gather(*(attach(*m) for m in made)))

    async def _attach(
        self, item: _Item, chat_id: int, sferum_chat_id: int, *, adopted: bool
    ) -> None:
        try:
            chat = await self._esh(
                functools.partial(self.esh.set_sferum_chat, chat_id, sferum_chat_id)
            )
        except ApiError as exc:
            # The chat exists and its id is journaled: the entry stays open, the next run's
            # resume writes it to the registry. Its members are still added in this run.
            log.warning(
                "Sferum chat %d made but not written to registry chat %d (%s)",
                sferum_chat_id,
                chat_id,
                type(exc).__name__,
            )
            self._left_open.add(item.entry)
            title = item.op.title if isinstance(item.op, CreateSferumChat) else None
            self.result.failed.append(
                FailedOperation(item.op, REGISTRY_NOT_UPDATED, error_message(exc), title)
            )
            self.tracker.finished([item.op], failed=True)
            return
        self.versions[chat.id] = chat.version
        self.world.with_sferum_chat(item.op.chat_key, sferum_chat_id)
        details = {"adopted": True} if adopted else None
        audit = self._audit(
            item.op, chat_id=chat_id, sferum_chat_id=sferum_chat_id, details=details
        )
        await self._finish(
            done=[
                (
                    item,
                    audit,
                    {"sferum_chat_id": sferum_chat_id, "chat_id": chat_id, "registry": True},
                )
            ]
        )
