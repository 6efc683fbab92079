"""The automatic sync: read (roster delta, registry, Sferum) → resume → plan → apply.

`SyncEngine` is what the headless `sferum-desktop sync` and the GUI both drive:

- `sync(dry_run=…, confirm_held=…)` — one run over every chat of the schools in scope;
- `apply_chat(chat_id)` — one registry chat only («saving a chat applies it»);
- `on_progress` gets `Progress` (phase, done/total, time left) as the run goes;
- `cancel()` stops at the next batch boundary: the batch in flight is finished and journaled,
  a Sferum chat made is always written to the registry, what was not sent is closed as
  cancelled (a rerun does it);
- `captcha_hook` answers a Sferum captcha (the GUI's dialog); without one a captcha stops the
  run (the CLI's exit code 5).

A run holds a lock file next to the store, so the service and the app never sync the same
store at once. The roster as last synced (the baseline the roster events are derived from)
advances only when a full run's plan was applied to the end; a held, cancelled or stopped
run leaves it, so the next run sees the same events again.

Held plans (mass removal, membership-rules.md «Safety»): without `confirm_held` nothing of a
plan with a hold is applied — not even its other operations, since a roster glitch that drops
a class may also move people — and the report says so (exit code 4 of the CLI).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Final

from sferum_desktop.api.errors import ApiError, Service, Unauthorized
from sferum_desktop.api.esh import EshClient
from sferum_desktop.api.esh_models import Link
from sferum_desktop.api.sferum import CaptchaNeeded, SferumClient, TokenInvalid
from sferum_desktop.domain import (
    AddSferumMember,
    ChatKey,
    ChatStatus,
    EventIndex,
    Operation,
    Plan,
    RegistryChat,
    RegistryState,
    RemoveSferumMember,
    RosterSnapshot,
    SferumState,
    derive_events,
    plan,
)
from sferum_desktop.store import (
    OPEN_STATES,
    LockBusy,
    RosterEventRow,
    RunLock,
    Store,
)
from sferum_desktop.sync.apply import Applier, StopApply
from sferum_desktop.sync.config import SyncConfig, SyncConfigError
from sferum_desktop.sync.journal import AsyncStore
from sferum_desktop.sync.progress import Phase, ProgressCallback, ProgressTracker
from sferum_desktop.sync.remote import (
    MemberCache,
    RegistryView,
    patiently,
    read_registry,
    read_sferum,
    registry_chat,
)
from sferum_desktop.sync.report import SyncReport
from sferum_desktop.sync.resume import ACCOUNT_CHANGED, close_open_entries, resume
from sferum_desktop.sync.roster_cache import RosterCache
from sferum_desktop.sync.snapshot import snapshot_from_roster
from sferum_desktop.sync.world import World

log = logging.getLogger("sferum_desktop.sync.engine")

CaptchaHook = Callable[[CaptchaNeeded], Awaitable[str | None]]

_META_URL: Final = "esh_url"
_META_PERSON: Final = "person_id"
_META_FULL: Final = "last_full_fetch"
_JOURNAL_KEEP: Final = timedelta(days=30)


SYNC = Service("sync", "Синхронизация")


class SyncBusy(ApiError):
    """Another sync of the same store is running (the service, or the app)."""

    default_message = "Синхронизация уже выполняется (в программе или службе). Повторите позже."

    def __init__(self) -> None:
        super().__init__(service=SYNC, code="busy", reason="the store's lock is held")


class SyncEngine:
    """Keeps the registry and the Sferum chats of the schools in scope as the rules say."""

    def __init__(
        self,
        esh: EshClient,
        sferum: SferumClient,
        store: Store,
        *,
        school_ids: Collection[str] | None = None,
        config: SyncConfig | None = None,
        actor: str = "sync",
        on_progress: ProgressCallback | None = None,
        captcha_hook: CaptchaHook | None = None,
        esh_concurrency: int = 4,
        sferum_workers: int = 2,
        batch_size: int = 25,
    ) -> None:
        self.esh = esh
        self.sferum = sferum
        self.store = store
        self.school_ids = frozenset(school_ids) if school_ids else None
        self.config = config or SyncConfig()
        self.actor = actor
        self.on_progress = on_progress
        self.captcha_hook = captcha_hook
        self.esh_concurrency = esh_concurrency
        self.sferum_workers = sferum_workers
        self.batch_size = batch_size  # Sferum calls per `execute` (1: the baseline)
        self._db = AsyncStore(store)
        self._lock_path = store.path.with_name(store.path.name + ".lock")
        self._running = asyncio.Lock()
        self._cancel = asyncio.Event()
        self._members = MemberCache()
        self._baseline: RosterCache | None = None  # the store's roster, once loaded
        self._baseline_snapshot: tuple[RosterCache, RosterSnapshot] | None = None
        # What the last run read (roster, registry, Sferum): names and chats for the views.
        self.world: World | None = None

    async def aclose(self) -> None:
        """Stop the store's worker thread (the store itself belongs to the caller)."""
        await asyncio.to_thread(self._db.close)

    # --- controls ---------------------------------------------------------------------------

    def cancel(self) -> None:
        """Stop the current run at the next batch boundary (nothing is left half-done);
        no-op between runs."""
        if self._running.locked():
            self._cancel.set()

    @property
    def running(self) -> bool:
        return self._running.locked()

    # --- runs -------------------------------------------------------------------------------

    async def sync(
        self,
        *,
        dry_run: bool = False,
        confirm_held: bool = False,
        confirmed: Collection[Operation] | None = None,
    ) -> SyncReport:
        """One run over every chat in scope; `dry_run` plans only.

        `confirm_held` releases every held removal (the CLI's `--confirm-held`); `confirmed`
        releases only the holds whose removals are all among those given: the ones an
        administrator was shown and confirmed (`Plan.release`).
        """
        return await self._run(
            dry_run=dry_run, confirm_held=confirm_held, chat_id=None, confirmed=confirmed
        )

    async def preview(self, *, confirm_held: bool = False) -> SyncReport:
        """The plan as it stands (nothing applied): `sync(dry_run=True)`."""
        return await self.sync(dry_run=True, confirm_held=confirm_held)

    async def apply_chat(self, chat_id: int, *, confirm_held: bool = False) -> SyncReport:
        """Apply one registry chat's plan now (its Sferum chat made if missing, linked
        members added or removed); the unlinked stay pending."""
        return await self._run(dry_run=False, confirm_held=confirm_held, chat_id=chat_id)

    async def _run(
        self,
        *,
        dry_run: bool,
        confirm_held: bool,
        chat_id: int | None,
        confirmed: Collection[Operation] | None = None,
    ) -> SyncReport:
        started = time.monotonic()
        report = SyncReport(dry_run=dry_run, confirm_held=confirm_held)
        tracker = ProgressTracker(self.on_progress)
        async with self._running:
            self._cancel.clear()
            lock = RunLock(self._lock_path)
            try:
                await asyncio.to_thread(lock.acquire, self.config.lock_timeout_s)
            except LockBusy:
                report.error = SyncBusy()
                report.duration_s = time.monotonic() - started
                return report
            previous_hook = self.sferum.captcha_handler
            if self.captcha_hook is not None:
                self.sferum.captcha_handler = self.captcha_hook
            try:
                kind = "dry_run" if dry_run else ("chat" if chat_id is not None else "sync")
                report.run_id = await self._db.call(self.store.start_run, kind, self.actor)
                await self._db.call(self.store.interrupt_stale_runs, report.run_id)
                await self._steps(
                    report, tracker, dry_run, confirm_held, chat_id, confirmed=confirmed
                )
            finally:
                self.sferum.captcha_handler = previous_hook
                report.duration_s = time.monotonic() - started
                if report.run_id is not None:
                    with contextlib.suppress(Exception):
                        await self._db.call(
                            self.store.finish_run, report.run_id, _status(report), report.as_json()
                        )
                lock.release()
                self._cancel.clear()
                tracker.phase(Phase.DONE)
        return report

    async def _steps(
        self,
        report: SyncReport,
        tracker: ProgressTracker,
        dry_run: bool,
        confirm_held: bool,
        chat_id: int | None,
        *,
        confirmed: Collection[Operation] | None = None,
    ) -> None:
        assert report.run_id is not None
        run_id = report.run_id
        try:
            tracker.phase(Phase.FETCH, "Чтение ЭШ и Сферума")
            world = await self._fetch(chat_id)
            only: list[ChatKey] | None = None
            if chat_id is not None:
                only = [k for k, c in world.registry.chats.items() if c.chat.id == chat_id]
            if not dry_run:
                tracker.phase(Phase.RESUME)
                resumed = await resume(
                    esh=self.esh,
                    sferum=self.sferum,
                    db=self._db,
                    world=world,
                    run_id=run_id,
                    actor=self.actor,
                    only_chats=only,
                )
                report.resumed = resumed.done
                if resumed.registry_changed:
                    self._members.entries.clear()
                    await self._read_state(world, chat_id)
            tracker.phase(Phase.PLAN)
            report.events = world.events
            the_plan = self._plan(world, confirm_held=confirm_held, only_chats=only, report=report)
            if confirmed is not None and not confirm_held:
                the_plan = the_plan.release(confirmed)
            report.plan = the_plan
            if dry_run or report.held or self._cancel.is_set():
                report.cancelled = self._cancel.is_set() and not dry_run
                return
            applier = Applier(
                esh=self.esh,
                sferum=self.sferum,
                db=self._db,
                run_id=run_id,
                actor=self.actor,
                world=world,
                thresholds=self.config.thresholds,
                tracker=tracker,
                cancel=self._cancel,
                esh_concurrency=self.esh_concurrency,
                sferum_workers=self.sferum_workers,
                batch_size=self.batch_size,
            )
            applied = await applier.apply(the_plan.operations)
            report.applied = applied.done
            report.failed = applied.failed
            report.not_applied = applied.not_applied
            report.cancelled = self._cancel.is_set()
            if applied.stop is not None:
                report.stop = applied.stop.kind
                report.error = applied.stop.error
            self._members.entries.clear()  # the registry changed under our writes
            if chat_id is None and report.stop is None and not report.cancelled:
                await self._commit_baseline(world, run_id)
        except StopApply as stop:
            report.stop, report.error = stop.kind, stop.error
        except (Unauthorized, TokenInvalid) as exc:
            report.stop, report.error = "sign_in", exc
        except CaptchaNeeded as exc:
            report.stop, report.error = "captcha", exc
        except ApiError as exc:
            log.warning("sync run failed: %s", exc)
            report.error = exc
        except BaseException:
            # A bug or a hard cancellation: what was never sent is closed, what was sent
            # stays open for the next run to resume.
            with contextlib.suppress(Exception):
                await self._close_pending(run_id)
            raise

    async def _close_pending(self, run_id: int) -> None:
        entries = await self._db.call(self.store.journal, run_id=run_id, states=[OPEN_STATES[0]])
        await close_open_entries(self._db, entries, "aborted")

    # --- reading ----------------------------------------------------------------------------

    async def _check_account(self, person_id: str) -> None:
        """A store belongs to one account on one server: if they changed, start afresh."""
        url = self.esh.base_url
        known_url = await self._db.call(self.store.get_meta, _META_URL)
        known_person = await self._db.call(self.store.get_meta, _META_PERSON)
        if known_url is None and known_person is None:
            await self._db.call(self.store.set_meta, {_META_URL: url, _META_PERSON: person_id})
            return
        if known_url == url and known_person == person_id:
            return
        log.warning("the server or the account changed: the cached roster is dropped")
        await self._db.call(self.store.clear_roster)
        entries = await self._db.call(self.store.journal_open)
        await close_open_entries(self._db, entries, ACCOUNT_CHANGED)
        await self._db.call(
            self.store.set_meta, {_META_URL: url, _META_PERSON: person_id, _META_FULL: None}
        )
        self._baseline = None
        self._baseline_snapshot = None
        self._members.entries.clear()

    async def _baseline_cache(self) -> RosterCache:
        if self._baseline is None:
            data = await self._db.call(self.store.load_roster)
            self._baseline = await asyncio.to_thread(RosterCache.from_store, data)
        return self._baseline

    async def _full_due(self) -> bool:
        last = await self._db.call(self.store.get_meta, _META_FULL)
        if last is None:
            return True
        age = datetime.now(UTC) - datetime.fromisoformat(last)
        return age > timedelta(hours=self.config.full_refresh_hours)

    def _snapshot(self, cache: RosterCache) -> RosterSnapshot:
        """The domain snapshot of a roster cache, in scope (the baseline's is kept)."""
        known = self._baseline_snapshot
        if known is not None and known[0] is cache:
            return known[1]
        return snapshot_from_roster(
            cache.records_snapshot(), cache.links.values(), school_ids=self.school_ids
        )

    def _check_schools(self, cache: RosterCache) -> None:
        if self.school_ids is None:
            return
        schools = {
            sid
            for sid, org in cache.records.get("orgs", {}).items()
            if getattr(org, "type", None) == "school"
        }
        unknown = sorted(self.school_ids - schools)
        if unknown:
            raise SyncConfigError(
                f"Школа {', '.join(unknown)} не найдена среди школ учётной записи."
            )

    async def _fetch(self, chat_id: int | None) -> World:
        me = await patiently(self.esh.me)
        await self._check_account(me.id)
        base = await self._baseline_cache()
        full = base.is_empty or await self._full_due()
        since = None if full else base.cursor
        fetched = await patiently(functools.partial(self.esh.fetch_roster, since))
        cache, changes = base.with_roster(fetched)
        links_full = full or cache.links_cursor is None
        links_since = None if links_full else cache.links_cursor

        async def read_links() -> list[Link]:
            return [link async for link in self.esh.list_links(links_since)]

        links = await patiently(read_links)
        cache, changed_links = cache.with_links(links, full=links_full)
        changes = replace(
            changes, links={link.person_id: link for link in links} if links_full else changed_links
        )
        self._check_schools(cache)
        snapshot = await asyncio.to_thread(self._snapshot, cache)
        baseline = None
        if not base.is_empty:
            baseline = await asyncio.to_thread(self._snapshot, base)
            self._baseline_snapshot = (base, baseline)
        events = await asyncio.to_thread(derive_events, baseline, snapshot) if baseline else []
        index = EventIndex.of(events, baseline, snapshot) if baseline else EventIndex()

        world = World(
            snapshot=snapshot,
            baseline=baseline,
            events=events,
            index=index,
            registry=RegistryState(),
            sferum=SferumState(),
            view=RegistryView({}, {}),
            cache=cache,
            changes=changes,
            person_id=me.id,
        )
        await self._read_state(world, chat_id)
        self.world = world
        return world

    async def _read_state(self, world: World, chat_id: int | None) -> None:
        """Read the registry and the Sferum chats into `world` (again, after a resume)."""
        schools = world.snapshot.schools
        view = await read_registry(
            self.esh, schools, self._members, only=[chat_id] if chat_id is not None else None
        )
        chats: list[RegistryChat] = []
        for chat in view.chats.values():
            if chat.school_id not in schools:
                continue
            item = registry_chat(chat, view.members.get(chat.id, ()))
            if item is not None:
                chats.append(item)
        registry = RegistryState.of(chats)
        sferum_ids = [
            item.chat.sferum_chat_id
            for item in registry.chats.values()
            if item.chat.sferum_chat_id is not None and item.chat.status is ChatStatus.ACTIVE
        ]
        sview = await read_sferum(self.sferum, sferum_ids)
        for error in sview.unreadable.values():
            if isinstance(error, CaptchaNeeded):
                raise StopApply("captcha", error)
            if isinstance(error, TokenInvalid):
                raise StopApply("sign_in", error)
        world.view = view
        world.registry = registry
        world.sferum = sview.state
        world.unreadable = sview.unreadable
        for key, item in list(registry.chats.items()):
            if item.chat.sferum_chat_id in sview.gone:
                log.warning("Sferum chat of %s is gone; it will be made again", key)
                world.with_sferum_chat(key, None)

    # --- planning ---------------------------------------------------------------------------

    def _plan(
        self,
        world: World,
        *,
        confirm_held: bool,
        only_chats: list[ChatKey] | None,
        report: SyncReport,
    ) -> Plan:
        the_plan = plan(
            world.snapshot,
            world.registry,
            world.sferum,
            self.config.thresholds,
            confirm_held=confirm_held,
            only_chats=only_chats,
            events=world.index,
        )
        if not world.unreadable:
            return the_plan
        skipped: dict[ChatKey, str] = {}
        for key, item in world.registry.chats.items():
            error = world.unreadable.get(item.chat.sferum_chat_id or 0)
            if error is not None:
                skipped[key] = error.user_message
        report.skipped_chats = skipped
        operations = tuple(
            op
            for op in the_plan.operations
            if not (isinstance(op, AddSferumMember | RemoveSferumMember) and op.chat_key in skipped)
        )
        return Plan(operations, the_plan.held, the_plan.pending)

    # --- the baseline -----------------------------------------------------------------------

    async def _commit_baseline(self, world: World, run_id: int) -> None:
        """The roster of this run becomes the one the next run's events are measured from."""
        cache, changes = world.cache, world.changes
        upserts, deletes = await asyncio.to_thread(cache.dumped, changes)
        links = RosterCache.link_rows(changes.links.values())
        events = [
            RosterEventRow(
                kind=e.kind.value,
                person_id=e.person_id,
                data=e.as_dict(),
                person_name=world.person_name(e.person_id),
                run_id=run_id,
            )
            for e in world.events
        ]
        await self._db.call(
            self.store.save_roster,
            replace=changes.full,
            upserts=upserts,
            deletes=deletes,
            links=links,
            cursors=cache.cursors(),
            events=events,
            run_id=run_id,
        )
        if changes.full:
            await self._db.call(self.store.set_meta, {_META_FULL: datetime.now(UTC).isoformat()})
        self._baseline = cache
        self._baseline_snapshot = (cache, world.snapshot)
        await self._db.call(self.store.prune_journal, datetime.now(UTC) - _JOURNAL_KEEP)


def _status(report: SyncReport) -> str:
    if report.plan is None:
        return "error"
    if report.dry_run:
        return "dry_run"
    if report.held:
        return "held"
    if report.stop is not None:
        return "stopped"
    if report.cancelled:
        return "cancelled"
    if report.failed or report.not_applied:
        return "failed"
    return "done"
