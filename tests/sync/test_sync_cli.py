"""`sferum-desktop sync` as cli.md says: --dry-run, --json, exit codes 2/3/4/5, --watch with a
clean stop on SIGTERM, the mass-removal hold and --confirm-held, thresholds from sync.toml."""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import Sandbox
from sync_support import (
    ARTEMOV,
    ARTEMOVA,
    FROLOV_V,
    FROLOVA,
    KIRILLOVA,
    LEONIDOV,
    SOKOLOV,
    VAVILOVA,
    VK,
    Cli,
    check_sferum_follows_registry,
    diff,
    read_state,
)

from sferum_desktop.store import JournalState, Store

SUMMARY_KEYS = {"create_chats", "add", "remove", "pending", "held"}


@pytest.fixture
def cli(sandbox: Sandbox, tmp_path: Path) -> Cli:
    return Cli(sandbox, tmp_path / "home")


def expel_class_1a(cli: Cli) -> None:
    """A roster glitch: the export drops the whole of 1А."""
    for student in (ARTEMOV, LEONIDOV, FROLOVA, VAVILOVA):
        cli.sandbox.dev("POST", "roster", json={"op": "expel", "student_id": student})


def test_json_has_the_shape_of_cli_md(cli: Cli) -> None:
    run = cli.run("--json")
    assert run.code == 0, run.stderr
    report = run.report
    assert set(report) >= {"plan", "applied", "failed", "duration_s"}
    assert set(report["plan"]) == SUMMARY_KEYS
    assert set(report["applied"]) == {"create_chats", "add", "remove"}
    assert report["failed"] == [] and isinstance(report["duration_s"], float)


def test_dry_run_prints_the_plan_and_changes_nothing(cli: Cli) -> None:
    assert cli.run().code == 0  # the baseline the events are measured from
    cli.sandbox.dev("POST", "roster", json={"op": "expel", "student_id": KIRILLOVA})
    before = read_state(cli.sandbox)
    run = cli.run("--dry-run", "--json")
    assert run.code == 0, run.stderr
    assert run.report["dry_run"] is True
    assert run.report["plan"]["remove"] == 4  # registry and Sferum, student and parent
    assert run.report["applied"] == {"create_chats": 0, "add": 0, "remove": 0}
    assert diff(before, read_state(cli.sandbox)) == {}
    human = cli.run("--dry-run")
    assert human.code == 0
    assert "План: создать чатов 0, добавить 0, удалить 4" in human.stdout
    assert "ничего не изменено" in human.stdout
    # The dry runs did not move the baseline: the real run still sees the expulsion.
    real = cli.run("--json")
    assert real.code == 0 and real.report["applied"]["remove"] == 4
    assert real.report["events"] == {"expelled": 1}


def test_a_mass_removal_is_held_then_applied_when_confirmed(cli: Cli) -> None:
    """Exit code 4: a glitch that drops a whole class changes nothing until confirmed."""
    assert cli.run("--json").code == 0
    before = read_state(cli.sandbox)
    expel_class_1a(cli)
    held = cli.run("--json")
    assert held.code == 4, held.stdout + held.stderr
    report = held.report
    assert report["plan"]["held"] >= 4
    assert report["applied"] == {"create_chats": 0, "add": 0, "remove": 0}
    assert any(h["chat"].endswith("/class/cls-000001") for h in report["holds"])
    assert diff(before, read_state(cli.sandbox)) == {}
    assert cli.run("--dry-run", "--json").code == 4
    assert "--confirm-held" in cli.run().stdout  # the human summary says how to go on

    confirmed = cli.run("--confirm-held", "--json")
    assert confirmed.code == 0, confirmed.stderr
    after = read_state(cli.sandbox)
    assert diff(before, after) == {
        "registry": {
            "1 А": {"-": {ARTEMOV, LEONIDOV, FROLOVA, VAVILOVA}},
            "1 А Родители": {"-": {ARTEMOVA, FROLOV_V}},
        },
        "sferum": {"1 А Родители": {"-": {VK[FROLOV_V]}}},
    }
    check_sferum_follows_registry(after)
    assert cli.run("--json").code == 0


def test_thresholds_come_from_sync_toml(cli: Cli) -> None:
    cli.write_config(
        "[thresholds]\nchat_fraction = 1.0\ntotal_fraction = 1.0\n"
        "min_chat_removals = 100\nmin_total_removals = 1000\n"
    )
    expel_class_1a(cli)
    run = cli.run("--json")
    assert run.code == 0, run.stdout + run.stderr
    assert run.report["applied"]["remove"] == 7


@pytest.mark.parametrize(
    ("args", "config"),
    [
        (["--watch", "0"], None),
        (["--no-such-flag"], None),
        (["--profile", "Нет такого"], None),
        (["--school", "org-999"], None),
        ([], "[thresholds]\nchat_fraction = 2\n"),
        ([], "not toml ["),
    ],
    ids=[
        "watch-zero",
        "unknown-flag",
        "unknown-profile",
        "unknown-school",
        "bad-fraction",
        "bad-toml",
    ],
)
def test_exit_code_2_for_bad_usage_or_configuration(
    cli: Cli, args: list[str], config: str | None
) -> None:
    if config is not None:
        cli.write_config(config)
    run = cli.run(*args, "--json")
    assert run.code == 2, run.stdout + run.stderr
    assert run.stderr.strip()


def test_exit_code_2_without_a_server_profile(cli: Cli) -> None:
    env = cli.env()
    del env["SFERUM_DESKTOP_ESH_URL"]
    run = cli.run("--json", env=env)
    assert run.code == 2
    assert "SFERUM_DESKTOP_ESH_URL" in run.stderr
    assert run.report["error"]["code"] == "usage"


def test_exit_code_3_when_sign_in_is_needed(cli: Cli) -> None:
    # No tokens at all (and no keyring): sign in first.
    run = cli.run("--json", env=cli.env(tokens=False))
    assert run.code == 3, run.stderr
    assert run.report["error"]["code"] == "sign_in"
    # A token ESh does not accept.
    env = cli.env(SFERUM_DESKTOP_ESH_TOKEN="esh-at.not-a-token")
    assert cli.run("--json", env=env).code == 3
    # A Sferum token that Sferum does not accept.
    env = cli.env(SFERUM_DESKTOP_SFERUM_TOKEN="vk2.a.not-a-token")
    run = cli.run("--json", env=env)
    assert run.code == 3, run.stdout + run.stderr
    assert run.report["stopped"] == "sign_in"
    # One of the two only.
    env = cli.env()
    del env["SFERUM_DESKTOP_SFERUM_TOKEN"]
    assert cli.run(env=env).code == 3


def test_exit_code_5_when_operations_fail_and_a_rerun_resumes_them(cli: Cli) -> None:
    before = read_state(cli.sandbox)
    vk = cli.sandbox.dev("POST", "link", json={"person_id": SOKOLOV})["vk_user_id"]
    cli.sandbox.faults(chat_member_limit=3)  # «2 А» in Sferum already has 3 members
    run = cli.run("--json")
    assert run.code == 5, run.stdout + run.stderr
    failed = run.report["failed"]
    assert [(f["op"], f["code"], f["vk_user_id"]) for f in failed] == [
        ("add_sferum_member", "sferum:103", vk)
    ]
    assert "2 000" in failed[0]["error"]  # the Russian message of error 103
    assert "ошибка" in cli.run().stdout  # and the human summary lists it
    cli.sandbox.clear_faults()
    rerun = cli.run("--json")
    assert rerun.code == 0
    assert rerun.report["applied"]["add"] == 1
    assert diff(before, read_state(cli.sandbox)) == {"sferum": {"2 А": {"+": {vk}}}}


def test_a_captcha_stops_a_headless_run_with_exit_code_5(cli: Cli) -> None:
    cli.sandbox.dev("POST", "link", json={"person_id": SOKOLOV})
    cli.sandbox.faults(captcha_rate=1.0, seed=3)
    before = read_state(cli.sandbox)
    run = cli.run("--json")
    assert run.code == 5, run.stdout + run.stderr
    assert run.report["stopped"] == "captcha"
    assert diff(before, read_state(cli.sandbox)) == {}
    cli.sandbox.clear_faults()
    assert cli.run("--json").code == 0


def test_school_filter(cli: Cli) -> None:
    run = cli.run("--school", "org-001", "--json")
    assert run.code == 0, run.stderr


def _read_line(process: subprocess.Popen[str], timeout: float = 60) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    line = process.stdout.readline()
    assert time.monotonic() < deadline
    return line


def test_watch_syncs_again_and_stops_cleanly_on_sigterm(cli: Cli) -> None:
    process = cli.popen("--watch", "0.5", "--json")
    try:
        first = _read_line(process)
        assert '"plan"' in first
        cli.sandbox.dev("POST", "roster", json={"op": "expel", "student_id": KIRILLOVA})
        for _ in range(40):
            line = _read_line(process)
            if '"remove":4' in line.split('"applied"')[1]:
                break
        else:
            pytest.fail("the watch never applied the expulsion")
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        assert process.stdout is not None and process.stderr is not None
        rest = process.stdout.read()
        stderr = process.stderr.read()
        process.stdout.close()
        process.stderr.close()
    assert code == 0, stderr
    for line in rest.splitlines():
        assert line.startswith("{")
    with Store.open(cli.store_path()) as store:
        assert not store.journal_open()
        assert all(r.status in ("done", "cancelled") for r in store.runs())


def test_store_is_private(cli: Cli) -> None:
    assert cli.run().code == 0
    path = cli.store_path()
    for candidate in path.parent.iterdir():
        if candidate.name.startswith(path.name) and not candidate.name.endswith(".lock"):
            assert candidate.stat().st_mode & 0o077 == 0, candidate
    assert path.parent.stat().st_mode & 0o077 == 0
    with Store.open(path) as store:
        assert {e.state for e in store.journal()} <= {JournalState.DONE}


def test_without_token_variables_the_desktop_sign_in_in_the_keyring_is_used(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without token variables, the session the app's sign-in left in the OS keyring (here an
    in-memory keyring, in-process) signs the sync in."""
    import asyncio

    import keyring
    from memory_keyring import MemoryKeyring

    from sferum_desktop.auth.session import AuthSession
    from sferum_desktop.auth.vault import Vault
    from sferum_desktop.cli import resolve_profile, sync_main

    env = cli.env(tokens=False)
    for name, value in env.items():
        if name.startswith(("SFERUM_DESKTOP_", "XDG_")):
            monkeypatch.setenv(name, value)
    monkeypatch.delenv("SFERUM_DESKTOP_ESH_TOKEN", raising=False)
    monkeypatch.delenv("SFERUM_DESKTOP_SFERUM_TOKEN", raising=False)
    backend = MemoryKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        profile = resolve_profile(None, env)
        vk = cli.sandbox.tokens("pavlova")["vkid"]

        async def sign_in() -> None:
            vault = Vault()
            session = AuthSession(profile, vault, proactive=False)
            me = await session.sign_in("pavlova", "demo")
            expires = (datetime.now(UTC) + timedelta(seconds=vk["expires_in"])).isoformat()
            await vault.save(
                profile.key,
                "vkid",
                {
                    "tokens": {
                        "access_token": vk["access_token"],
                        "refresh_token": vk["refresh_token"],
                        "expires_at": expires,
                        "lifetime_s": vk["expires_in"],
                    },
                    "device_id": "test-device",
                    "user_id": vk["user_id"],
                    "person_id": me.id,
                },
            )
            await session.aclose()

        asyncio.run(sign_in())
        assert backend.names() == {f"{profile.key}/esh", f"{profile.key}/vkid"}
        cli.sandbox.dev("POST", "roster", json={"op": "expel", "student_id": KIRILLOVA})
        code = sync_main(["--json"], env=env)
        out = capsys.readouterr().out
        assert code == 0, out
        assert '"remove":4' in out
    finally:
        keyring.set_keyring(previous)
