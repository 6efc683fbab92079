"""The sandbox server core: start-up, persistence, injected faults, the control surface and the
OpenAPI document — all over real HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import start_sandbox

ROOT = Path(__file__).resolve().parents[2]
ME = "/esh/api/v1/me"


@pytest.fixture
def http(sandbox: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, timeout=30) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def admin_token(sandbox: Any) -> str:
    return str(sandbox.tokens(sandbox.accounts()["admin"]["username"])["esh"]["access_token"])


# --- the process ------------------------------------------------------------------------------


def test_ready_within_five_seconds_on_a_fresh_data_dir(tmp_path: Path) -> None:
    started = time.perf_counter()
    with subprocess.Popen(
        [sys.executable, "-m", "sferum_desktop", "sandbox", "--dataset", "demo", "--port", "0",
         "--data", str(tmp_path / "fresh")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        encoding="utf-8",
    ) as process:  # fmt: skip
        try:
            assert process.stdout is not None
            first = process.stdout.readline().strip()
            elapsed = time.perf_counter() - started
            assert first.startswith("SANDBOX READY http://127.0.0.1:"), first
            assert elapsed < 5, f"READY after {elapsed:.2f} s"
            with httpx.Client(base_url=first.split()[-1], timeout=10) as client:
                assert client.get("/sandbox/dev/accounts").status_code == 200
            banner = [process.stdout.readline() for _ in range(3)]
            assert any("demo" in line for line in banner)
        finally:
            process.terminate()
            code = process.wait(timeout=10)
    if os.name != "nt":
        assert code == 0  # SIGTERM is a clean stop


def test_restart_keeps_the_state(tmp_path: Path) -> None:
    server = start_sandbox(tmp_path)
    try:
        student = server.accounts()["student"]
        token = server.tokens(student["username"])["esh"]["access_token"]
        server.dev("POST", "link", json={"person_id": student["person_id"]})
        server.faults(latency_ms=1)
    finally:
        server.stop()
    again = start_sandbox(tmp_path)
    try:
        assert again.dev("GET", "faults")["latency_ms"] == 1
        with httpx.Client(base_url=again.url, timeout=10) as client:
            me = client.get(ME, headers=bearer(token))
        assert me.status_code == 200  # the session survived
        assert me.json()["link"]["status"] == "linked"
    finally:
        again.stop()


def test_another_seed_rebuilds_the_database(tmp_path: Path) -> None:
    server = start_sandbox(tmp_path, seed=1)
    try:
        server.faults(latency_ms=1)
    finally:
        server.stop()
    other = start_sandbox(tmp_path, seed=2)
    try:
        assert other.dev("GET", "faults")["latency_ms"] == 0
    finally:
        other.stop()


# --- faults -----------------------------------------------------------------------------------


def test_error_rate_answers_503_on_esh_only(sandbox: Any, http: httpx.Client) -> None:
    token = admin_token(sandbox)
    sandbox.faults(error_rate=1)
    answer = http.get(ME, headers=bearer(token))
    assert answer.status_code == 503
    assert answer.json()["error"] == "unavailable"
    assert http.post("/sferum/method/users.get", data={"v": "5.199"}).status_code == 500
    # The control surface and the OpenAPI document are never faulted.
    assert http.get("/sandbox/dev/accounts").status_code == 200
    assert http.get("/openapi.json").status_code == 200
    sandbox.clear_faults()
    assert http.get(ME, headers=bearer(token)).status_code == 200


def test_disconnect_rate_cuts_the_answer(sandbox: Any, http: httpx.Client) -> None:
    token = admin_token(sandbox)
    sandbox.faults(disconnect_rate=1)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        http.get(ME, headers=bearer(token))
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        http.post("/esh/api/v1/auth/logout", headers=bearer(token))  # a bodiless 204
    sandbox.clear_faults()
    # The logout took effect although its answer was lost.
    assert http.get(ME, headers=bearer(token)).json()["error"] == "invalid_token"
    assert not any("Exception in ASGI application" in line for line in sandbox.output)


def test_malformed_rate_garbles_the_body(sandbox: Any, http: httpx.Client) -> None:
    token = admin_token(sandbox)
    sandbox.faults(malformed_rate=1)
    answer = http.get(ME, headers=bearer(token))
    assert answer.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.content)


def test_rate_limit(sandbox: Any, http: httpx.Client) -> None:
    token = admin_token(sandbox)
    sandbox.faults(rate_limit_rps=1)
    assert http.get(ME, headers=bearer(token)).status_code == 200
    limited = http.get(ME, headers=bearer(token))
    assert limited.status_code == 429
    assert limited.json()["error"] == "rate_limited"
    assert limited.headers["Retry-After"] == "1"
    # Counted per token: another person's token is not limited.
    other = sandbox.tokens(sandbox.accounts()["teacher"]["username"])["esh"]["access_token"]
    assert http.get(ME, headers=bearer(other)).status_code == 200
    # Sferum answers VK's error 6 with HTTP 200.
    params = {"v": "5.199", "access_token": "vk-token"}
    assert "error" in http.post("/sferum/method/users.get", data=params).json()
    vk = http.post("/sferum/method/users.get", data=params)
    assert vk.status_code == 200
    error = vk.json()["error"]
    assert error["error_code"] == 6
    assert error["error_msg"] == "Too many requests per second"
    assert {"key": "method", "value": "users.get"} in error["request_params"]
    assert all(p["key"] != "access_token" for p in error["request_params"])
    time.sleep(1.05)
    assert http.get(ME, headers=bearer(token)).status_code == 200


def test_latency(sandbox: Any, http: httpx.Client) -> None:
    token = admin_token(sandbox)
    sandbox.faults(latency_ms=300, jitter_ms=100)
    started = time.perf_counter()
    assert http.get(ME, headers=bearer(token)).status_code == 200
    assert 0.3 <= time.perf_counter() - started < 3
    started = time.perf_counter()
    http.get("/sandbox/dev/faults")
    assert time.perf_counter() - started < 0.3


def test_seeded_faults_repeat(sandbox: Any, http: httpx.Client) -> None:
    token = admin_token(sandbox)

    def statuses() -> list[int]:
        sandbox.faults(error_rate=0.5, seed=42)
        return [http.get(ME, headers=bearer(token)).status_code for _ in range(16)]

    first = statuses()
    assert set(first) == {200, 503}
    assert statuses() == first


def test_faults_roundtrip_and_validation(sandbox: Any, http: httpx.Client) -> None:
    shown = sandbox.faults(latency_ms=5, captcha_rate=0.25)
    assert shown["latency_ms"] == 5 and shown["captcha_rate"] == 0.25
    assert shown["access_token_ttl_s"] == 900 and shown["error_rate"] == 0
    assert sandbox.dev("GET", "faults") == shown
    assert http.put("/sandbox/dev/faults", json={"error_rate": 2}).status_code == 422
    assert http.put("/sandbox/dev/faults", json={"typo_rate": 1}).status_code == 422
    cleared = sandbox.clear_faults()
    assert cleared["latency_ms"] == 0 and cleared["captcha_rate"] == 0


# --- the control surface ----------------------------------------------------------------------


def test_dev_tokens(sandbox: Any, http: httpx.Client) -> None:
    accounts = sandbox.accounts()
    assert set(accounts) == {"admin", "teacher", "student", "parent"}
    admin = sandbox.tokens(accounts["admin"]["username"])
    assert admin["esh"]["expires_in"] == 900
    me = http.get(ME, headers=bearer(admin["esh"]["access_token"])).json()
    assert me["id"] == accounts["admin"]["person_id"]
    assert me["link"]["status"] == "linked"
    assert admin["vkid"]["user_id"] == me["link"]["vk_user_id"]
    assert admin["vkid"]["access_token"] and admin["vkid"]["refresh_token"]
    by_id = sandbox.dev("POST", "tokens", json={"person_id": accounts["admin"]["person_id"]})
    assert by_id["esh"]["access_token"] != admin["esh"]["access_token"]
    # An unlinked person without a VK ID educational profile gets no VK ID tokens.
    state = sandbox.dev("GET", "state")
    linked = {link["person_id"] for link in state["links"] if link["status"] == "linked"}
    assert accounts["student"]["person_id"] not in linked
    assert sandbox.tokens(accounts["student"]["username"])["vkid"] is None
    assert http.post("/sandbox/dev/tokens", json={"username": "nobody"}).status_code == 404
    assert http.post("/sandbox/dev/tokens", json={}).status_code == 422


def test_dev_state(sandbox: Any) -> None:
    state = sandbox.dev("GET", "state")
    assert state["dataset"] == "demo"
    names = [chat["name"] for chat in state["registry"]]
    for name in (
        "Учительская",
        "3 А",
        "3 А Родители",
        "2 А",
        "2 А Родители",
        "1 А",
        "1 А Родители",
    ):
        assert name in names
    staff_room = next(c for c in state["registry"] if c["name"] == "Учительская")
    assert len(staff_room["members"]) == 13
    assert {"person_id", "role_in_chat", "source", "excluded"} <= set(staff_room["members"][0])
    assert state["sferum"] and all(isinstance(i, int) for i in state["sferum"][0]["member_ids"])
    assert {"person_id", "vk_user_id", "status", "updated_at"} <= set(state["links"][0])
    school = staff_room["school_id"]
    assert sandbox.dev("GET", "state", params={"school": school})["registry"] == state["registry"]
    assert sandbox.dev("GET", "state", params={"school": "org-none"})["registry"] == []


def test_reset_starts_over(sandbox: Any, http: httpx.Client) -> None:
    token = admin_token(sandbox)
    sandbox.faults(latency_ms=1)
    answer = sandbox.reset()
    assert answer["dataset"] == "demo" and answer["seed"] == 1
    assert {a["role"] for a in answer["accounts"]} == {"admin", "teacher", "student", "parent"}
    assert http.get(ME, headers=bearer(token)).json()["error"] == "invalid_token"
    assert sandbox.dev("GET", "faults")["latency_ms"] == 0
    assert http.post("/sandbox/dev/reset", json={"dataset": "nope"}).status_code == 422


def test_dev_sms_validates_the_phone(http: httpx.Client) -> None:
    assert http.get("/sandbox/dev/sms", params={"phone": "12"}).status_code == 400
    empty = http.get("/sandbox/dev/sms", params={"phone": "8 (999) 000-00-00"}).json()
    assert empty == {"phone": "+79990000000", "items": []}


def test_faults_reach_only_the_vkid_token_endpoint(sandbox: Any, http: httpx.Client) -> None:
    sandbox.faults(error_rate=1)
    token = http.post("/vkid/oauth2/auth", data={"grant_type": "authorization_code"})
    assert token.status_code == 503
    assert token.json()["error"] == "temporarily_unavailable"
    # The VK ID pages are not faulted: whatever they answer, it is not the injected 503.
    page = http.get("/vkid/authorize", params={"client_id": "0"})
    assert page.status_code != 503


# --- the OpenAPI document ---------------------------------------------------------------------


def test_committed_openapi_document_is_in_sync(http: httpx.Client) -> None:
    served = http.get("/openapi.json").json()
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
    assert served["info"]["title"] == "Sferum Desktop sandbox"
    assert served == committed, "docs/openapi.json is stale: run scripts/export_openapi.py"
