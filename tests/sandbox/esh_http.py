"""Helpers for the ESh roster and registry tests: signed-in HTTP clients, paths, the audit."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

ROSTER = "/esh/ims/oneroster/rostering/v1p2"
REGISTRY = "/esh/api/v1/sferum"

# The demo school (datasets.py, seed 1): ids the tests lean on.
SCHOOL = "org-001"
DISTRICT = "org-000"
CLASS_1A, CLASS_2A, CLASS_3A = "cls-000001", "cls-000002", "cls-000003"
GROUP_1A_RUSSIAN = "cls-000004"  # taught by Павлова
GROUP_2A_RUSSIAN = "cls-000013"  # taught by Смирнова
GROUP_3A_RUSSIAN = "cls-000022"  # taught by Морозова
STUDENTS_1A = ("usr-000014", "usr-000015", "usr-000016", "usr-000017")
ARTEMOV, FROLOVA, FROLOV_MAKSIM = "usr-000014", "usr-000016", "usr-000020"
FROLOV_FATHER = "usr-000023"  # father of Фролова (1А) and Фролов (3А)
ARTEMOVA = "usr-000022"  # Артемов's mother: a VK ID profile, not linked yet
MOROZOVA = "usr-000003"


class Clients:
    """httpx clients signed in to ESh, by demo role (`admin`, `teacher`, …) or username."""

    def __init__(self, sandbox: Any) -> None:
        self.sandbox = sandbox
        self.accounts = sandbox.accounts()
        self._open: list[httpx.Client] = []

    def username(self, who: str) -> str:
        return str(self.accounts[who]["username"]) if who in self.accounts else who

    def person_id(self, who: str) -> str:
        return str(self.accounts[who]["person_id"])

    def __call__(self, who: str) -> httpx.Client:
        token = self.sandbox.tokens(self.username(who))["esh"]["access_token"]
        client = httpx.Client(
            base_url=self.sandbox.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )
        self._open.append(client)
        return client

    def vk_token(self, who: str) -> str:
        """A fresh VK ID access token of the person's educational profile."""
        vkid = self.sandbox.tokens(self.username(who))["vkid"]
        assert vkid is not None, f"{who} has no VK ID educational profile"
        return str(vkid["access_token"])

    def close(self) -> None:
        for client in self._open:
            client.close()


def roster_event(sandbox: Any, **event: Any) -> dict[str, Any]:
    """Apply a roster event through the control surface; its answer."""
    answer: dict[str, Any] = sandbox.dev("POST", "roster", json=event)
    return answer


def raw_event(sandbox: Any, **event: Any) -> httpx.Response:
    """A roster event whose error answer the test wants to see."""
    with httpx.Client(base_url=sandbox.url, timeout=30) as client:
        return client.post("/sandbox/dev/roster", json=event)


def moment_before() -> str:
    """An ISO moment a little before now: a delta cursor that catches what happens next."""
    earlier = datetime.now(UTC) - timedelta(seconds=1)
    return earlier.strftime("%Y-%m-%dT%H:%M:%S.") + f"{earlier.microsecond // 1000:03d}Z"


def audit_rows(sandbox: Any, action: str) -> list[sqlite3.Row]:
    """ESh's audit records of one action, read straight from the sandbox's database."""
    path = sandbox.data_dir / "sandbox.sqlite3"
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute(
            "SELECT * FROM esh_audit WHERE action = ? ORDER BY id", (action,)
        ).fetchall()


def error_of(answer: httpx.Response) -> str:
    """The ESh error code of an answer (and a check that it has the ESh error shape)."""
    body = answer.json()
    assert set(body) == {"error", "message", "details"}, body
    assert body["message"], body
    return str(body["error"])
