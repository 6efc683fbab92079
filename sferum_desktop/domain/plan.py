"""The sync plan: the operations that bring the registry and Sferum to the desired state.

`plan(snapshot, registry, sferum)` compares the desired registry (`rules`) with the current
registry and Sferum chats and lists, in a fixed order:

1. registry chats to create (automatic chats the roster calls for);
2. registry members to remove, then to add;
3. Sferum chats to create (for registry chats that have none yet);
4. Sferum members to remove, then to add (VK user ids).

Sferum membership is the registry members who are linked, not blocked and not excluded; the
Sferum chat's owner (its creator) is never removed from it. Registry members who are not
linked are *pending*. Removals above the mass-removal threshold are *held* (not in
`operations`) until an administrator confirms (`confirm_held=True`).

Plans are deterministic — sorted by chat key and person id — and idempotent: each operation
states the end it reaches (add X, remove Y), so applying a plan twice changes nothing more,
and planning again after applying it gives an empty plan.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Any, ClassVar, NamedTuple

from sferum_desktop.domain.chats import (
    Chat,
    ChatStatus,
    ChatType,
    MemberRole,
    MemberSource,
    RegistryMember,
)
from sferum_desktop.domain.events import NO_EVENTS, EventIndex, Reason, RosterEvent
from sferum_desktop.domain.registry import ChatKey, RegistryChat, RegistryState, SferumState
from sferum_desktop.domain.roster import EMPTY, RosterSnapshot
from sferum_desktop.domain.rules import DesiredChat, desired_registry

# --- thresholds ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The mass-removal hold (membership-rules.md «Safety»).

    A chat's removals are held when they are more than `chat_fraction` of its members and at
    least `min_chat_removals` (so that one expulsion from a class of four is not held); all
    removals are held when they are more than `total_fraction` of all memberships and at
    least `min_total_removals`. Registry and Sferum memberships are measured separately.
    """

    chat_fraction: float = 0.2
    total_fraction: float = 0.2
    min_chat_removals: int = 3
    min_total_removals: int = 10

    def __post_init__(self) -> None:
        if not (0 <= self.chat_fraction <= 1 and 0 <= self.total_fraction <= 1):
            raise ValueError("thresholds are fractions between 0 and 1")
        if self.min_chat_removals < 1 or self.min_total_removals < 1:
            raise ValueError("a hold needs at least one removal")

    def holds_chat(self, removals: int, members: int) -> bool:
        return removals >= self.min_chat_removals and removals > self.chat_fraction * members

    def holds_total(self, removals: int, members: int) -> bool:
        return removals >= self.min_total_removals and removals > self.total_fraction * members


DEFAULT_THRESHOLDS = Thresholds()


# --- operations ---------------------------------------------------------------------------------


class _Operation:
    """Common behaviour of the operation types (each a frozen dataclass)."""

    __slots__ = ()
    __dataclass_fields__: ClassVar[dict[str, Any]]
    kind: ClassVar[str]
    phase: ClassVar[int]  # order of the phases in a plan
    chat_key: ChatKey
    reason: Reason

    @property
    def subject(self) -> str:
        """Who (or what) the operation is about, for ids and ordering."""
        return ""

    @property
    def op_id(self) -> str:
        """A stable id: the same operation in two plans has the same id (journal key)."""
        subject = self.subject
        return f"{self.kind}:{self.chat_key}" + (f":{subject}" if subject else "")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields, for the sync journal and the audit log."""
        data: dict[str, Any] = {"op": self.kind}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, ChatKey):
                value = [value.school_id, value.type.value, value.ref]
            elif isinstance(value, Chat):
                value = _chat_dict(value)
            elif isinstance(value, StrEnum):
                value = value.value
            data[item.name] = value
        return data


@dataclass(frozen=True, slots=True)
class CreateRegistryChat(_Operation):
    """Create an automatic chat in the registry (`POST /chats`)."""

    kind: ClassVar[str] = "create_registry_chat"
    phase: ClassVar[int] = 0
    chat_key: ChatKey
    chat: Chat
    reason: Reason = Reason.RULE


@dataclass(frozen=True, slots=True)
class RemoveRegistryMember(_Operation):
    """Remove a member from a registry chat (`DELETE /chats/{id}/members`, no exclusion)."""

    kind: ClassVar[str] = "remove_registry_member"
    phase: ClassVar[int] = 1
    chat_key: ChatKey
    person_id: str
    reason: Reason
    chat_id: int | None = None

    @property
    def subject(self) -> str:
        return self.person_id


@dataclass(frozen=True, slots=True)
class AddRegistryMember(_Operation):
    """Add a rule member to a registry chat (`POST /chats/{id}/members`, source rule)."""

    kind: ClassVar[str] = "add_registry_member"
    phase: ClassVar[int] = 2
    chat_key: ChatKey
    person_id: str
    role_in_chat: MemberRole
    reason: Reason
    chat_id: int | None = None  # None while the registry chat is still to be created
    source: MemberSource = MemberSource.RULE

    @property
    def subject(self) -> str:
        return self.person_id


@dataclass(frozen=True, slots=True)
class CreateSferumChat(_Operation):
    """Create the Sferum chat of a registry chat (`messages.createChat`), then remember its id
    in the registry (`PUT /chats/{id}/sferum`)."""

    kind: ClassVar[str] = "create_sferum_chat"
    phase: ClassVar[int] = 3
    chat_key: ChatKey
    title: str
    admin_person_id: str | None = None
    admin_vk_user_id: int | None = None  # the intended creator, who will own the chat
    chat_id: int | None = None  # the registry chat, None while it is still to be created
    reason: Reason = Reason.RULE


@dataclass(frozen=True, slots=True)
class RemoveSferumMember(_Operation):
    """Remove a VK user from a Sferum chat (`messages.removeChatUser`)."""

    kind: ClassVar[str] = "remove_sferum_member"
    phase: ClassVar[int] = 4
    chat_key: ChatKey
    person_id: str | None  # None for a VK user no ESh person is known to have
    vk_user_id: int
    reason: Reason
    sferum_chat_id: int

    @property
    def subject(self) -> str:
        return f"vk{self.vk_user_id}"


@dataclass(frozen=True, slots=True)
class AddSferumMember(_Operation):
    """Add a linked registry member to a Sferum chat (`messages.addChatUser`)."""

    kind: ClassVar[str] = "add_sferum_member"
    phase: ClassVar[int] = 5
    chat_key: ChatKey
    person_id: str
    vk_user_id: int
    reason: Reason
    sferum_chat_id: int | None = None  # None while the Sferum chat is still to be created

    @property
    def subject(self) -> str:
        return self.person_id


Operation = (
    CreateRegistryChat
    | RemoveRegistryMember
    | AddRegistryMember
    | CreateSferumChat
    | RemoveSferumMember
    | AddSferumMember
)
OPERATION_TYPES: tuple[type[Operation], ...] = (
    CreateRegistryChat,
    RemoveRegistryMember,
    AddRegistryMember,
    CreateSferumChat,
    RemoveSferumMember,
    AddSferumMember,
)
_BY_KIND: dict[str, type[Operation]] = {t.kind: t for t in OPERATION_TYPES}
REMOVALS = (RemoveRegistryMember, RemoveSferumMember)


def operation_order(op: Operation) -> tuple[int, ChatKey, str, int]:
    """The position of an operation in a plan: phase, then chat key, then person (or VK id)."""
    if isinstance(op, RemoveSferumMember):
        return (op.phase, op.chat_key, "", op.vk_user_id)
    return (op.phase, op.chat_key, op.subject, 0)


def _chat_dict(chat: Chat) -> dict[str, Any]:
    return {
        "id": chat.id,
        "school_id": chat.school_id,
        "name": chat.name,
        "type": chat.type.value,
        "class_id": chat.class_id,
        "group_id": chat.group_id,
        "subject": chat.subject,
        "admin_person_id": chat.admin_person_id,
        "sferum_chat_id": chat.sferum_chat_id,
        "status": chat.status.value,
        "version": chat.version,
    }


def operation_from_dict(data: Mapping[str, Any]) -> Operation:
    """The operation `as_dict` wrote (for a journal read back after a restart)."""
    values = dict(data)
    op_type = _BY_KIND[values.pop("op")]
    school, kind, ref = values["chat_key"]
    values["chat_key"] = ChatKey(school, ChatType(kind), ref)
    values["reason"] = Reason(values["reason"])
    if "chat" in values:
        chat = dict(values["chat"])
        chat["type"] = ChatType(chat["type"])
        chat["status"] = ChatStatus(chat["status"])
        values["chat"] = Chat(**chat)
    if "role_in_chat" in values:
        values["role_in_chat"] = MemberRole(values["role_in_chat"])
    if "source" in values:
        values["source"] = MemberSource(values["source"])
    return op_type(**values)


# --- the plan -----------------------------------------------------------------------------------


class HoldScope(StrEnum):
    CHAT = "chat"  # one chat's removals
    TOTAL = "total"  # all the plan's removals


@dataclass(frozen=True, slots=True)
class Hold:
    """Removals put aside for an administrator's confirmation, and why."""

    scope: HoldScope
    chat_key: ChatKey | None  # None for the whole plan
    removals: int  # how many members would go …
    members: int  # … of how many
    threshold: float
    operations: tuple[Operation, ...]

    @property
    def fraction(self) -> float:
        return self.removals / self.members if self.members else 1.0

    @property
    def message(self) -> str:
        """A sentence for the administrator, in the UI's language."""
        where = "чата" if self.scope is HoldScope.CHAT else "всех чатов"
        return (
            f"Удаление {self.removals} из {self.members} участников {where} "
            f"({self.fraction:.0%}) превышает порог {self.threshold:.0%}: "
            "требуется подтверждение администратора."
        )


class PendingMember(NamedTuple):
    """A registry member not in the Sferum chat because they have not linked their account."""

    chat_key: ChatKey
    person_id: str


@dataclass(frozen=True, slots=True)
class ChatPlan:
    """One chat's part of a plan, as the «Синхронизация» view groups it."""

    chat_key: ChatKey
    operations: tuple[Operation, ...] = ()
    held: tuple[Operation, ...] = ()
    pending: tuple[str, ...] = ()

    def count(self, *types: type[Operation]) -> int:
        return sum(1 for op in self.operations if isinstance(op, types))


@dataclass(frozen=True, slots=True, eq=False)
class Plan:
    """The ordered operations to apply, the held removals and the pending members."""

    operations: tuple[Operation, ...] = ()
    held: tuple[Hold, ...] = ()
    pending: tuple[PendingMember, ...] = ()

    @property
    def is_empty(self) -> bool:
        """Nothing to do and nothing waiting for confirmation (pending members aside)."""
        return not self.operations and not self.held

    @property
    def held_operations(self) -> tuple[Operation, ...]:
        return tuple(op for hold in self.held for op in hold.operations)

    def confirmed(self) -> Plan:
        """This plan with its held removals included, as confirmation makes it."""
        if not self.held:
            return self
        merged = sorted((*self.operations, *self.held_operations), key=operation_order)
        return Plan(tuple(merged), (), self.pending)

    def release(self, confirmed: Collection[Operation]) -> Plan:
        """This plan with the holds an administrator confirmed included, and only those.

        A hold is released only when every one of its removals is among `confirmed` (the
        removals the administrator was shown): one that gained a removal since stays held,
        so a plan that changed between «Проверить» and «Применить» is never applied on the
        strength of a confirmation given for another.
        """
        allowed = set(confirmed)
        released = [h for h in self.held if all(op in allowed for op in h.operations)]
        if not released:
            return self
        kept = tuple(h for h in self.held if not any(h is r for r in released))
        merged = sorted(
            (*self.operations, *(op for hold in released for op in hold.operations)),
            key=operation_order,
        )
        return Plan(tuple(merged), kept, self.pending)

    def summary(self) -> dict[str, int]:
        return summary(self)

    def by_chat(self) -> dict[ChatKey, ChatPlan]:
        """The plan grouped by chat, sorted by chat key."""
        ops: dict[ChatKey, list[Operation]] = {}
        held: dict[ChatKey, list[Operation]] = {}
        pending: dict[ChatKey, list[str]] = {}
        for op in self.operations:
            ops.setdefault(op.chat_key, []).append(op)
        for op in self.held_operations:
            held.setdefault(op.chat_key, []).append(op)
        for key, person_id in self.pending:
            pending.setdefault(key, []).append(person_id)
        return {
            key: ChatPlan(
                key,
                tuple(ops.get(key, ())),
                tuple(held.get(key, ())),
                tuple(pending.get(key, ())),
            )
            for key in sorted(ops.keys() | held.keys() | pending.keys())
        }


def summary(plan: Plan, *, detailed: bool = False) -> dict[str, int]:
    """Counts in cli.md's JSON shape: `{create_chats, add, remove, pending, held}`.

    `create_chats`, `add` and `remove` count operations (registry and Sferum alike, as
    `applied` does); `pending` counts people waiting to link; `held` counts held operations.
    `detailed=True` adds a count per operation kind.
    """
    by_kind = dict.fromkeys(_BY_KIND, 0)
    for op in plan.operations:
        by_kind[op.kind] += 1
    counts = {
        "create_chats": by_kind["create_registry_chat"] + by_kind["create_sferum_chat"],
        "add": by_kind["add_registry_member"] + by_kind["add_sferum_member"],
        "remove": by_kind["remove_registry_member"] + by_kind["remove_sferum_member"],
        "pending": len({p.person_id for p in plan.pending}),
        "held": sum(len(h.operations) for h in plan.held),
    }
    if detailed:
        counts.update(by_kind)
        counts["pending_memberships"] = len(plan.pending)
    return counts


# --- reasons ------------------------------------------------------------------------------------

_ADD_KINDS = frozenset({Reason.HIRED, Reason.ENROLLED, Reason.TRANSFERRED, Reason.ASSIGNED})


def _chat_class(snapshot: RosterSnapshot, chat: Chat) -> str | None:
    """The class a chat is about: its own, or its teaching group's."""
    if chat.type is ChatType.SUBJECT and chat.group_id is not None:
        group = snapshot.groups.get(chat.group_id)
        if group is not None:
            return group.class_id
    return chat.class_id


def _explains(event: RosterEvent, chat: Chat, class_id: str | None, adding: bool) -> bool:
    """Whether a roster event accounts for adding to / removing from this chat."""
    kind = event.kind
    if adding:
        if kind is Reason.HIRED:
            return chat.type is ChatType.STAFF and event.school_id == chat.school_id
        if kind in (Reason.ENROLLED, Reason.TRANSFERRED):
            return class_id is not None and event.class_id == class_id
        if kind is Reason.ASSIGNED:
            return _assignment_matches(event, chat, class_id)
        return kind is Reason.GUARDIAN_ADDED and chat.type is ChatType.PARENTS
    if kind in (Reason.DISMISSED, Reason.EXPELLED):
        return event.school_id == chat.school_id
    if kind is Reason.TRANSFERRED:
        return event.from_school_id == chat.school_id
    if kind is Reason.UNASSIGNED:
        return _assignment_matches(event, chat, class_id)
    return kind is Reason.GUARDIAN_REMOVED


def _assignment_matches(event: RosterEvent, chat: Chat, class_id: str | None) -> bool:
    if event.group_id is not None:
        return event.group_id == chat.group_id
    return (
        event.class_id is not None
        and event.class_id == class_id
        and chat.type in (ChatType.CLASS, ChatType.PARENTS)
    )


@dataclass(slots=True)
class _Reasons:
    """Why each operation: the roster event that explains it, else what the state shows."""

    snapshot: RosterSnapshot
    events: EventIndex

    def _from_events(
        self, chat: Chat, class_id: str | None, person_id: str, role: MemberRole, adding: bool
    ) -> Reason | None:
        # A parent follows their children: a child's enrolment, transfer or expulsion is the
        # cause before the parent's own records (a new guardian comes with a new student).
        sources = [self.events.of_person(person_id)]
        if role is MemberRole.PARENT:
            sources.insert(0, self.events.of_children(person_id))
        for events in sources:
            for event in events:
                if _explains(event, chat, class_id, adding):
                    return event.kind
        return None

    def registry_add(
        self, chat: Chat, class_id: str | None, person_id: str, role: MemberRole
    ) -> Reason:
        if not self.events.by_person:
            return Reason.RULE
        reason = self._from_events(chat, class_id, person_id, role, adding=True)
        return reason if reason is not None else Reason.RULE

    def registry_remove(
        self, chat: Chat, class_id: str | None, person_id: str, member: RegistryMember
    ) -> Reason:
        role = member.role_in_chat
        if self.events.by_person:
            reason = self._from_events(chat, class_id, person_id, role, adding=False)
            if reason is not None:
                return reason
        # No event: say what the roster shows.
        snapshot = self.snapshot
        if role is MemberRole.STAFF:
            school = chat.school_id
            if chat.type is ChatType.STAFF or not snapshot.is_staff_of(school, person_id):
                return Reason.RULE if snapshot.is_employed(school, person_id) else Reason.DISMISSED
            return Reason.UNASSIGNED if chat.type.has_rule_members else Reason.RULE
        if role is MemberRole.STUDENT:
            classes = snapshot.student_classes.get(person_id, EMPTY)
            if not classes:
                return Reason.EXPELLED
            return Reason.TRANSFERRED if class_id not in classes else Reason.RULE
        children = snapshot.children.get(person_id, EMPTY)
        if not children:
            return Reason.RULE
        enrolled = any(snapshot.student_classes.get(c) for c in children)
        return Reason.TRANSFERRED if enrolled else Reason.EXPELLED

    def sferum_add(self, person_id: str, manual: bool) -> Reason:
        """Why a registry member joins the Sferum chat now: they linked or were unblocked."""
        for event in self.events.of_person(person_id):
            if event.kind in (Reason.LINKED, Reason.UNBLOCKED):
                return event.kind
        return Reason.MANUAL if manual else Reason.RULE

    def sferum_remove(self, vk_user_id: int, excluded: bool) -> Reason:
        """Why a VK user leaves a Sferum chat (when not with their registry membership)."""
        holder = self.snapshot.vk_people.get(vk_user_id)
        if holder is None:
            return Reason.UNLINKED  # the profile is linked to no one in ESh now
        if self.snapshot.is_blocked(holder):
            return Reason.BLOCKED
        return Reason.MANUAL if excluded else Reason.RULE


# --- planning -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Builder:
    snapshot: RosterSnapshot
    sferum: SferumState
    thresholds: Thresholds
    confirm_held: bool
    reasons: _Reasons
    create_registry: list[Operation] = field(default_factory=list)
    remove_registry: list[Operation] = field(default_factory=list)
    add_registry: list[Operation] = field(default_factory=list)
    create_sferum: list[Operation] = field(default_factory=list)
    remove_sferum: list[Operation] = field(default_factory=list)
    add_sferum: list[Operation] = field(default_factory=list)
    pending: list[PendingMember] = field(default_factory=list)
    holds: list[Hold] = field(default_factory=list)
    registry_removals: int = 0
    sferum_removals: int = 0

    def chat(self, desired: DesiredChat) -> None:
        key, chat, current = desired.key, desired.chat, desired.current
        snapshot, reasons = self.snapshot, self.reasons
        links, people = snapshot.links, snapshot.people
        class_id = _chat_class(snapshot, chat)
        existing: Mapping[str, RegistryMember] = current.members if current is not None else {}
        wanted = desired.members

        # Registry.
        if current is None:
            self.create_registry.append(CreateRegistryChat(key, chat))
        chat_id = chat.id
        removed_reason: dict[str, Reason] = {}
        removals: list[Operation] = []
        active = 0
        for person_id in sorted(existing):
            member = existing[person_id]
            if member.excluded:
                continue
            active += 1
            if person_id not in wanted:
                reason = reasons.registry_remove(chat, class_id, person_id, member)
                removed_reason[person_id] = reason
                removals.append(RemoveRegistryMember(key, person_id, reason, chat_id))
        added_reason: dict[str, Reason] = {}
        wanted_sorted = sorted(wanted)
        for person_id in wanted_sorted:
            if person_id not in existing:
                role = wanted[person_id]
                reason = reasons.registry_add(chat, class_id, person_id, role)
                added_reason[person_id] = reason
                self.add_registry.append(AddRegistryMember(key, person_id, role, reason, chat_id))

        # Sferum.
        sferum_id = chat.sferum_chat_id
        if sferum_id is None:
            admin = chat.admin_person_id
            self.create_sferum.append(
                CreateSferumChat(
                    key, chat.name, admin, links.get(admin) if admin else None, chat_id
                )
            )
            in_sferum: frozenset[int] = frozenset()
            owner = None
        else:
            in_sferum = self.sferum.members_of(sferum_id)
            owner = self.sferum.owner_of(sferum_id)
        want_vk: dict[int, str] = {}
        for person_id in wanted_sorted:
            vk = links.get(person_id)
            if vk is None:
                self.pending.append(PendingMember(key, person_id))
                continue
            person = people.get(person_id)
            if person is not None and person.blocked:
                continue
            want_vk[vk] = person_id
            if vk not in in_sferum:
                reason = added_reason.get(person_id) or reasons.sferum_add(
                    person_id, existing[person_id].source is MemberSource.MANUAL
                )
                self.add_sferum.append(AddSferumMember(key, person_id, vk, reason, sferum_id))
        stray = sorted(vk for vk in in_sferum if vk not in want_vk and vk != owner)
        if stray:
            assert sferum_id is not None
            owners = self._vk_owners(existing)
            for vk in stray:
                who = (
                    owners.get(vk)
                    or snapshot.vk_people.get(vk)
                    or self.reasons.events.vk_owner.get(vk)
                )
                why = removed_reason.get(who) if who is not None else None
                if why is None:
                    former = existing.get(who) if who is not None else None
                    why = reasons.sferum_remove(vk, former is not None and former.excluded)
                removals.append(RemoveSferumMember(key, who, vk, why, sferum_id))

        # The mass-removal hold, chat by chat.
        registry_out = len(removed_reason)
        sferum_out = len(stray)
        self.registry_removals += registry_out
        self.sferum_removals += sferum_out
        in_sferum_count = len(in_sferum) - (1 if owner in in_sferum else 0)
        if not self.confirm_held:
            for out, members in ((registry_out, active), (sferum_out, in_sferum_count)):
                if self.thresholds.holds_chat(out, members):
                    self.holds.append(
                        Hold(
                            HoldScope.CHAT,
                            key,
                            out,
                            members,
                            self.thresholds.chat_fraction,
                            tuple(removals),
                        )
                    )
                    return
        for op in removals:
            (
                self.remove_sferum if isinstance(op, RemoveSferumMember) else self.remove_registry
            ).append(op)

    def _vk_owners(self, existing: Mapping[str, RegistryMember]) -> dict[int, str]:
        """VK id -> person, for the people the chat lists (now linked or as ESh last said)."""
        links = self.snapshot.links
        owners: dict[int, str] = {}
        for person_id, member in existing.items():
            if member.vk_user_id is not None:
                owners[member.vk_user_id] = person_id
        for person_id in existing:
            vk = links.get(person_id)
            if vk is not None:
                owners[vk] = person_id
        return owners

    def total_hold(self, registry: RegistryState) -> None:
        """Hold every remaining removal when the plan as a whole removes too much."""
        if self.confirm_held:
            return
        th = self.thresholds
        checks = (
            (self.registry_removals, registry.active_memberships),
            (self.sferum_removals, self.sferum.memberships),
        )
        for out, members in checks:
            if th.holds_total(out, members):
                ops = tuple(self.remove_registry) + tuple(self.remove_sferum)
                if ops:
                    self.holds.append(
                        Hold(HoldScope.TOTAL, None, out, members, th.total_fraction, ops)
                    )
                self.remove_registry.clear()
                self.remove_sferum.clear()
                return

    def build(self) -> Plan:
        operations = (
            *self.create_registry,
            *self.remove_registry,
            *self.add_registry,
            *self.create_sferum,
            *self.remove_sferum,
            *self.add_sferum,
        )
        holds = sorted(
            self.holds,
            key=lambda h: (
                h.scope is HoldScope.TOTAL,
                h.chat_key or ChatKey("", ChatType.STAFF, ""),
            ),
        )
        return Plan(tuple(operations), tuple(holds), tuple(self.pending))


def plan(
    snapshot: RosterSnapshot,
    registry: RegistryState,
    sferum: SferumState,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    *,
    confirm_held: bool = False,
    only_chats: Collection[ChatKey] | None = None,
    events: EventIndex | None = None,
) -> Plan:
    """The operations that bring the registry and Sferum to what the rules want.

    `only_chats` limits the plan to those chats (a delta sync passes `touched_chats(...)`);
    `events` (an `EventIndex` of `derive_events(old, new)`) gives operations their roster
    reasons; `confirm_held` includes the removals the mass-removal hold would put aside.
    """
    builder = _Builder(
        snapshot, sferum, thresholds, confirm_held, _Reasons(snapshot, events or NO_EVENTS)
    )
    for desired in desired_registry(snapshot, registry, only_chats).values():
        builder.chat(desired)
    builder.total_hold(registry)
    return builder.build()


# --- an in-memory applier -----------------------------------------------------------------------


def apply_in_memory(
    operations: Plan | Iterable[Operation],
    registry: RegistryState,
    sferum: SferumState,
) -> tuple[RegistryState, SferumState]:
    """Apply operations to in-memory states, the way ESh and Sferum answer them: adds and
    removes are idempotent, a chat is never created twice, a rule add respects an exclusion,
    and a new Sferum chat starts with its creator as owner and member.

    For tests and previews; the real apply (sync/) journals and calls the APIs.
    """
    ops = operations.operations if isinstance(operations, Plan) else tuple(operations)
    chats: dict[ChatKey, RegistryChat] = {}  # copies of the chats changed so far
    members: dict[ChatKey, dict[str, RegistryMember]] = {}
    sferum_members: dict[int, set[int]] = {}
    owners = dict(sferum.owners)
    next_chat = 1 + max((c.chat.id or 0 for c in registry.chats.values()), default=0)
    next_sferum = 1 + max(
        (
            *sferum.members.keys(),
            *(c.chat.sferum_chat_id or 0 for c in registry.chats.values()),
        ),
        default=0,
    )

    def current(key: ChatKey) -> RegistryChat | None:
        return chats.get(key) or registry.get(key)

    def editable(key: ChatKey) -> dict[str, RegistryMember] | None:
        found = members.get(key)
        if found is None:
            item = current(key)
            if item is None:
                return None
            found = members[key] = dict(item.members)
        return found

    def vk_set(chat_id: int) -> set[int]:
        found = sferum_members.get(chat_id)
        if found is None:
            found = sferum_members[chat_id] = set(sferum.members_of(chat_id))
        return found

    def sferum_id(key: ChatKey, given: int | None) -> int | None:
        if given is not None:
            return given
        item = current(key)
        return item.chat.sferum_chat_id if item is not None else None

    for op in ops:
        if isinstance(op, CreateRegistryChat):
            if current(op.chat_key) is None:
                chats[op.chat_key] = RegistryChat(replace(op.chat, id=next_chat))
                next_chat += 1
        elif isinstance(op, (AddRegistryMember, RemoveRegistryMember)):
            found = editable(op.chat_key)
            item = current(op.chat_key)
            if found is None or item is None:
                continue
            member = found.get(op.person_id)
            if isinstance(op, AddRegistryMember):
                if member is None:
                    assert item.chat.id is not None
                    found[op.person_id] = RegistryMember(
                        item.chat.id, op.person_id, op.role_in_chat, op.source
                    )
            elif member is not None and not member.excluded:
                del found[op.person_id]
        elif isinstance(op, CreateSferumChat):
            item = current(op.chat_key)
            if item is None or item.chat.sferum_chat_id is not None:
                continue
            chats[op.chat_key] = RegistryChat(
                replace(item.chat, sferum_chat_id=next_sferum), item.members
            )
            sferum_members[next_sferum] = set()
            if op.admin_vk_user_id is not None:
                owners[next_sferum] = op.admin_vk_user_id
                sferum_members[next_sferum].add(op.admin_vk_user_id)
            next_sferum += 1
        else:
            target = sferum_id(op.chat_key, op.sferum_chat_id)
            if target is None:
                continue
            if isinstance(op, AddSferumMember):
                vk_set(target).add(op.vk_user_id)
            elif owners.get(target) != op.vk_user_id:
                vk_set(target).discard(op.vk_user_id)

    updates: dict[ChatKey, RegistryChat | None] = {}
    for key in chats.keys() | members.keys():
        item = current(key)
        assert item is not None
        found = members.get(key)
        updates[key] = RegistryChat(item.chat, found) if found is not None else item
    new_registry = registry.replace(updates) if updates else registry
    if sferum_members or owners != sferum.owners:
        merged = dict(sferum.members)
        merged.update({chat_id: frozenset(ids) for chat_id, ids in sferum_members.items()})
        new_sferum = SferumState(merged, owners)
    else:
        new_sferum = sferum
    return new_registry, new_sferum
