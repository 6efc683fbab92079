"""Helpers of the sync tests: the real CLI as a subprocess, the sandbox's truth, diffs of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conftest import Sandbox

# The demo school (sandbox dataset `demo`, seed 1).
PAVLOVA, SMIRNOVA, MOROZOVA, BELOVA = "usr-000001", "usr-000002", "usr-000003", "usr-000004"
ARTEMOV, LEONIDOV, FROLOVA, VAVILOVA = "usr-000014", "usr-000015", "usr-000016", "usr-000017"
KIRILLOVA, SOKOLOV, FROLOV_M, SOLOVYOVA = "usr-000018", "usr-000019", "usr-000020", "usr-000021"
ARTEMOVA, FROLOV_V, KIRILLOVA_YU, SOKOLOV_O = "usr-000022", "usr-000023", "usr-000024", "usr-000025"
CLASS_1A, CLASS_2A, CLASS_3A = "cls-000001", "cls-000002", "cls-000003"
SCHOOL = "org-001"
VK = {
    PAVLOVA: 100000001,
    SMIRNOVA: 100000002,
    MOROZOVA: 100000003,
    BELOVA: 100000004,
    KIRILLOVA: 100000011,
    FROLOV_M: 100000012,
    FROLOV_V: 100000014,
    KIRILLOVA_YU: 100000015,
}
STAFF_ROOM = "Учительская"


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def reports(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.startswith("{")]

    @property
    def report(self) -> dict[str, Any]:
        found = self.reports
        assert len(found) == 1, self.stdout + self.stderr
        return found[0]


@dataclass
class Cli:
    """`sferum-desktop sync` against a sandbox, with its own config and data folders."""

    sandbox: Sandbox
    home: Path
    user: str = "pavlova"
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self, *, tokens: bool = True, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SFERUM_DESKTOP_")}
        url = self.sandbox.url
        env.update(
            {
                "SFERUM_DESKTOP_ESH_URL": url,
                "SFERUM_DESKTOP_VKID_URL": f"{url}/vkid",
                "SFERUM_DESKTOP_SFERUM_URL": f"{url}/sferum",
                "XDG_CONFIG_HOME": str(self.home / "config"),
                "XDG_DATA_HOME": str(self.home / "data"),
                "XDG_CACHE_HOME": str(self.home / "cache"),
                "XDG_STATE_HOME": str(self.home / "state"),
                # No system keyring in the tests: the in-memory fallback finds nothing.
                "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
                "PYTHONDONTWRITEBYTECODE": "1",
            }
        )
        if tokens:
            issued = self.sandbox.tokens(self.user)
            env["SFERUM_DESKTOP_ESH_TOKEN"] = issued["esh"]["access_token"]
            env["SFERUM_DESKTOP_SFERUM_TOKEN"] = issued["vkid"]["access_token"]
        env.update(self.extra_env)
        env.update(extra)
        return env

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "sferum_desktop", "sync", *args]

    def run(self, *args: str, timeout: float = 180, env: Mapping[str, str] | None = None) -> Run:
        done = subprocess.run(
            self.command(*args),
            env=dict(env) if env is not None else self.env(),
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            check=False,
        )
        return Run(done.returncode, done.stdout, done.stderr)

    def popen(self, *args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(*args),
            env=dict(env) if env is not None else self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )

    def store_path(self) -> Path:
        found = sorted((self.home / "data" / "sferum-desktop" / "sync").glob("*.sqlite3"))
        assert len(found) == 1, found
        return found[0]

    def write_config(self, text: str) -> None:
        folder = self.home / "config" / "sferum-desktop"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "sync.toml").write_text(text, encoding="utf-8")


# --- the sandbox's truth ---------------------------------------------------------------------


@dataclass
class State:
    """Registry chats (active members: person -> (tab, source)) and Sferum chats by title."""

    raw: dict[str, Any]
    registry: dict[str, dict[str, tuple[str, str]]]
    excluded: dict[str, set[str]]
    sferum: dict[str, set[int]]
    sferum_ids: dict[str, int | None]  # registry chat -> its Sferum chat
    owners: dict[str, int]  # Sferum chat title -> its admin
    links: dict[str, int]  # linked people -> VK id

    def members(self, chat: str) -> set[str]:
        return set(self.registry[chat])


def chat_label(chat: Mapping[str, Any], schools: int) -> str:
    return chat["name"] if schools == 1 else f"{chat['school_id']}/{chat['name']}"


def read_state(sandbox: Sandbox, school: str | None = None) -> State:
    raw = sandbox.dev("GET", "state", params={"school": school} if school else None)
    registry: dict[str, dict[str, tuple[str, str]]] = {}
    excluded: dict[str, set[str]] = {}
    sferum_ids: dict[str, int | None] = {}
    for chat in raw["registry"]:
        if chat["status"] != "active":
            continue
        name = chat["name"]
        assert name not in registry, f"two registry chats named {name}"
        registry[name] = {
            m["person_id"]: (m["role_in_chat"], m["source"])
            for m in chat["members"]
            if not m["excluded"]
        }
        excluded[name] = {m["person_id"] for m in chat["members"] if m["excluded"]}
        sferum_ids[name] = chat["sferum_chat_id"]
    sferum: dict[str, set[int]] = {}
    owners: dict[str, int] = {}
    for chat in raw["sferum"]:
        if chat["deleted"]:
            continue
        assert chat["title"] not in sferum, f"two Sferum chats titled {chat['title']}"
        sferum[chat["title"]] = set(chat["member_ids"])
        owners[chat["title"]] = chat["admin_id"]
    links = {
        link["person_id"]: link["vk_user_id"]
        for link in raw["links"]
        if link["status"] == "linked" and link["vk_user_id"] is not None
    }
    return State(raw, registry, excluded, sferum, sferum_ids, owners, links)


def diff(before: State, after: State) -> dict[str, dict[str, dict[str, Any]]]:
    """What changed, per chat: registry `+`/`-` (person -> tab for additions), Sferum too."""
    changes: dict[str, dict[str, dict[str, Any]]] = {}
    for name in before.registry.keys() | after.registry.keys():
        old, new = before.registry.get(name, {}), after.registry.get(name, {})
        added = {p: new[p][0] for p in new.keys() - old.keys()}
        removed = set(old) - set(new)
        entry: dict[str, Any] = {}
        if added:
            entry["+"] = added
        if removed:
            entry["-"] = removed
        if entry:
            changes.setdefault("registry", {})[name] = entry
    for title in before.sferum.keys() | after.sferum.keys():
        old_ids, new_ids = before.sferum.get(title, set()), after.sferum.get(title, set())
        entry = {}
        if new_ids - old_ids:
            entry["+"] = new_ids - old_ids
        if old_ids - new_ids:
            entry["-"] = old_ids - new_ids
        if entry:
            changes.setdefault("sferum", {})[title] = entry
    return changes


def check_sferum_follows_registry(state: State, blocked: Iterable[str] = ()) -> None:
    """The rules' Sferum side, computed independently of the planner: each Sferum chat holds
    exactly its registry chat's active members who are linked and not blocked (and its
    owner, who is never removed from it)."""
    blocked = set(blocked)
    titles_seen = set()
    for name, members in state.registry.items():
        sferum_id = state.sferum_ids[name]
        assert sferum_id is not None, f"{name} has no Sferum chat"
        sferum = next(c for c in state.raw["sferum"] if c["chat_id"] == sferum_id)
        assert not sferum["deleted"], f"{name}: its Sferum chat is deleted"
        assert sferum["title"] == name
        titles_seen.add(name)
        wanted = {state.links[p] for p in members if p in state.links and p not in blocked}
        wanted.add(sferum["admin_id"])
        assert set(sferum["member_ids"]) == wanted, (
            name,
            sorted(set(sferum["member_ids"]) - wanted),
            sorted(wanted - set(sferum["member_ids"])),
        )
    orphans = [c for c in state.raw["sferum"] if not c["deleted"] and c["title"] not in titles_seen]
    assert not orphans, f"Sferum chats no registry chat names: {orphans}"


# --- a scenario with many chats to make --------------------------------------------------------

SUBJECT_GROUPS = [f"cls-{n:06d}" for n in range(4, 31)]  # the demo's 27 teaching groups


def fresh_sferum(sandbox: Sandbox, user: str = "pavlova") -> int:
    """The demo with its Sferum chats deleted and forgotten by the registry, and a subject
    chat in the registry for every teaching group: the next sync makes 34 Sferum chats and
    fills them. Returns how many registry chats there are."""
    import httpx

    tokens = sandbox.tokens(user)
    state = sandbox.dev("GET", "state")
    headers = {"Authorization": f"Bearer {tokens['esh']['access_token']}"}
    with httpx.Client(base_url=sandbox.url, headers=headers, timeout=60) as esh:
        calls = ",".join(
            f'API.messages.deleteChat({{"chat_id": {c["chat_id"]}}})' for c in state["sferum"]
        )
        answer = esh.post(
            "/sferum/method/execute",
            data={"code": f"return [{calls}];", "v": "5.199"},
            headers={"Authorization": f"Bearer {tokens['vkid']['access_token']}"},
        )
        assert "error" not in answer.json(), answer.text
        for chat in state["registry"]:
            put = esh.put(
                f"/esh/api/v1/sferum/chats/{chat['id']}/sferum", json={"sferum_chat_id": None}
            )
            put.raise_for_status()
        for group in SUBJECT_GROUPS:
            made = esh.post("/esh/api/v1/sferum/chats", json={"type": "subject", "group_id": group})
            made.raise_for_status()
    return len(state["registry"]) + len(SUBJECT_GROUPS)


def membership(state: State) -> tuple[dict[str, dict[str, tuple[str, str]]], dict[str, set[int]]]:
    """The registry's and Sferum's members by chat name: what two runs must agree on."""
    return state.registry, state.sferum
