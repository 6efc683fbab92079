"""The Sferum client against the real sandbox: every method, `execute` batches with failures
mapped to their calls, each error code, captcha, token refresh, faults, and the rate limiter.

Each client gets its own freshly minted token (the sandbox's `/sandbox/dev/tokens`), so the
3-requests-per-second limit of one token does not serialise the whole file. The 300-call
burst takes ~100 s by design (it measures the limiter) and is marked `slow`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from conftest import Sandbox

from sferum_desktop.api.errors import (
    ConnectionLost,
    MalformedResponse,
    NetworkError,
    ServerError,
)
from sferum_desktop.api.ratelimit import PerTokenLimiter
from sferum_desktop.api.retry import RetryPolicy
from sferum_desktop.api.sferum import (
    CHAT_PEER_BASE,
    AccessDenied,
    CaptchaNeeded,
    ChatNotFound,
    FloodControl,
    FloodPolicy,
    InvalidParameter,
    MethodCall,
    NoChatAccess,
    NotChatAdmin,
    NotInOrganization,
    OutOfLimits,
    SferumClient,
    TokenInvalid,
    UserNotInChat,
)
from sferum_desktop.api.vkid import VkIdClient

PAVLOVA = 100_000_001  # the demo's school Sferum administrator and teacher
SMIRNOVA = 100_000_002  # a teacher, member of Учительская (chat 1)
STAFF = [100_000_003, 100_000_004, 100_000_005]  # more teachers of the school
STUDENT_PERSON = "usr-000018"  # a linked student (VK 100000011)
UNKNOWN = 999_999_999
CLIENT_ID = "51900001"  # «ЭлЖур», the demo dataset's VK ID application
TEACHERS_ROOM = 1  # «Учительская»: Павлова (admin) + 8 staff
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.05, max_delay=0.2)

Factory = Callable[..., Awaitable[SferumClient]]


def vk_tokens(sandbox: Sandbox, username: str | None = None, person_id: str | None = None) -> Any:
    """Fresh VK ID tokens of a demo account (a new token: a new rate-limit window)."""
    body = {"username": username} if username else {"person_id": person_id}
    vkid = sandbox.dev("POST", "tokens", json=body)["vkid"]
    assert vkid is not None
    return vkid


@pytest.fixture
async def sferum(sandbox: Sandbox) -> AsyncIterator[Factory]:
    """Make Sferum clients with fresh tokens; all closed at the end."""
    clients: list[SferumClient] = []

    async def make(
        username: str | None = "pavlova", *, person_id: str | None = None, **kw: Any
    ) -> SferumClient:
        token = vk_tokens(sandbox, username if not person_id else None, person_id)
        kw.setdefault("retry", FAST_RETRY)
        kw.setdefault("flood", FloodPolicy(retries=0))
        client = SferumClient(f"{sandbox.url}/sferum", token["access_token"], **kw)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


def sferum_chat(sandbox: Sandbox, chat_id: int) -> dict[str, Any]:
    """The sandbox's truth about one Sferum chat."""
    chats = {c["chat_id"]: c for c in sandbox.dev("GET", "state")["sferum"]}
    return chats[chat_id]


# --- the methods ----------------------------------------------------------------------------


async def test_users_get_with_edu_profiles(sferum: Factory) -> None:
    vk = await sferum()
    me, others = await asyncio.gather(vk.users_get(), vk.users_get([SMIRNOVA, UNKNOWN, PAVLOVA]))
    assert [u.id for u in me] == [PAVLOVA]
    profile = me[0].edu_profile
    assert profile is not None and profile.full_name == "Павлова Елена Владимировна"
    assert set(profile.roles) == {"teacher", "admin"} and profile.birthday is not None
    assert profile.in_organization(profile.organizations[0].id)
    assert [u.id for u in others] == [SMIRNOVA, PAVLOVA]  # unknown ids are left out
    assert others[0].edu_profile is not None and others[0].edu_profile.birthday is None


async def test_chat_lifecycle(sandbox: Sandbox, sferum: Factory) -> None:
    vk, reader = await sferum(), await sferum()
    title = 'Кружок «Робототехника» "7А" \\ </script>'
    chat_id = await vk.create_chat(title, [SMIRNOVA])
    await vk.edit_chat(chat_id, title + " (осень)")
    await vk.add_chat_user(chat_id, STAFF[0])
    chat = await reader.get_chat(chat_id)
    assert chat.title == title + " (осень)" and chat.admin_id == PAVLOVA
    assert chat.users == [PAVLOVA, SMIRNOVA, STAFF[0]] and chat.members_count == 3
    await vk.remove_chat_user(chat_id, SMIRNOVA)
    await vk.add_chat_user(chat_id, STAFF[0])  # already a member: 1, nothing changes
    both = await reader.get_chats([chat_id, TEACHERS_ROOM])
    assert [c.id for c in both] == [chat_id, TEACHERS_ROOM] and both[0].members_count == 2
    link = await reader.get_invite_link(chat_id)
    assert link.startswith("https://vk.me/join/")
    assert await vk.get_invite_link(chat_id) == link
    assert await vk.get_invite_link(chat_id, reset=True) != link
    assert sferum_chat(sandbox, chat_id)["member_ids"] == [PAVLOVA, STAFF[0]]
    await reader.delete_chat(chat_id)
    with pytest.raises(ChatNotFound):
        await vk.get_chat(chat_id)
    assert sferum_chat(sandbox, chat_id)["deleted"]


async def test_conversation_members_are_read_page_by_page(
    sandbox: Sandbox, sferum: Factory
) -> None:
    vk = await sferum()
    members = await vk.get_conversation_members(TEACHERS_ROOM, page_size=2)
    truth = sferum_chat(sandbox, TEACHERS_ROOM)["member_ids"]
    assert members.count == len(truth) == len(members.items)
    assert sorted(members.member_ids) == sorted(truth)
    assert {p.id for p in members.profiles} == set(truth)
    owner = next(m for m in members.items if m.member_id == PAVLOVA)
    assert owner.is_owner and owner.is_admin and owner.join_date is not None
    assert vk.stats.requests == 2  # the first page, then the other four in one execute
    page = await vk.get_conversation_members_page(TEACHERS_ROOM, offset=8, count=200)
    assert len(page.items) == len(truth) - 8


async def test_conversations_and_calls(sferum: Factory) -> None:
    vk = await sferum()
    conversations = await vk.get_conversations()
    assert conversations.count == len(conversations.items) >= 1
    assert all(c.chat_id and c.title for c in conversations.items)
    dates = [c.last_message.date for c in conversations.items if c.last_message]
    assert dates == sorted(dates, reverse=True)
    started = await vk.calls_start(TEACHERS_ROOM)
    alone = await vk.calls_start(name="Совещание")
    active = await vk.calls_get_active()
    ours = {c.call_id: c for c in active.items}
    assert started.join_link.startswith("https://vk.com/call/join/")
    assert ours[started.call_id].chat_id == TEACHERS_ROOM
    assert ours[started.call_id].name == "Учительская"
    assert ours[alone.call_id].chat_id is None and ours[alone.call_id].name == "Совещание"


async def test_call_sends_any_method(sferum: Factory) -> None:
    vk = await sferum()
    answer = await vk.call("messages.getChat", chat_ids=[TEACHERS_ROOM])
    assert isinstance(answer, list) and answer[0]["id"] == TEACHERS_ROOM
    with pytest.raises(InvalidParameter):
        await vk.call(
            "messages.getConversationMembers", peer_id=CHAT_PEER_BASE + TEACHERS_ROOM, count=201
        )


# --- execute batches ------------------------------------------------------------------------


async def test_batch_maps_failures_to_their_operations(sandbox: Sandbox, sferum: Factory) -> None:
    vk = await sferum()
    chat_id = await vk.create_chat("Методобъединение", [SMIRNOVA])
    calls = [
        MethodCall.add_chat_user(chat_id, STAFF[0]),  # ok
        MethodCall.add_chat_user(chat_id, UNKNOWN),  # 1019
        MethodCall.get_chat(9999),  # 927
        MethodCall.remove_chat_user(chat_id, STAFF[2]),  # 935
        MethodCall.edit_chat(chat_id, "Методобъединение учителей"),  # ok
        MethodCall("messages.noSuchMethod", {}),  # 3
        MethodCall.add_chat_user(chat_id, STAFF[1]),  # ok
        MethodCall.remove_chat_user(chat_id, SMIRNOVA),  # ok
        MethodCall.get_chat(chat_id),  # ok, sees the changes before it
    ]
    results = await vk.batch(calls)
    assert [r.call for r in results] == calls
    assert [r.ok for r in results] == [True, False, False, False, True, False, True, True, True]
    assert isinstance(results[1].error, NotInOrganization)
    assert isinstance(results[2].error, ChatNotFound)
    assert isinstance(results[3].error, UserNotInChat)
    assert results[3].error.request_params["member_id"] == str(STAFF[2])
    assert results[5].error is not None and results[5].error.code == "3"
    assert results[8].value["users"] == [PAVLOVA, STAFF[0], STAFF[1]]
    assert results[8].value["title"] == "Методобъединение учителей"
    assert vk.stats.executes == 1 and vk.stats.requests == 2
    assert sferum_chat(sandbox, chat_id)["member_ids"] == [PAVLOVA, STAFF[0], STAFF[1]]


async def test_batch_packs_25_calls_per_execute(sandbox: Sandbox, sferum: Factory) -> None:
    vk = await sferum()
    chat_id = await vk.create_chat("Пакет")
    staff = [PAVLOVA + n for n in range(1, 8)]  # 100000002..100000008: the school's staff
    calls = [MethodCall.add_chat_user(chat_id, staff[n % len(staff)]) for n in range(60)]
    calls[40] = MethodCall.add_chat_user(chat_id, UNKNOWN)
    results = await vk.batch(calls)
    assert vk.stats.executes == 3 and vk.stats.batched_calls == 60
    assert [n for n, r in enumerate(results) if not r.ok] == [40]
    assert isinstance(results[40].error, NotInOrganization)
    assert sorted(sferum_chat(sandbox, chat_id)["member_ids"]) == [PAVLOVA, *staff]


# --- the error codes ------------------------------------------------------------------------


async def test_roles_and_chat_rights(sferum: Factory) -> None:
    teacher = await sferum("smirnova.oi")
    student = await sferum(None, person_id=STUDENT_PERSON)
    with pytest.raises(NotChatAdmin):  # 925: a member, not the admin
        await teacher.edit_chat(TEACHERS_ROOM, "Чужой чат")
    with pytest.raises(NoChatAccess):  # 917: not a member of «1 А»
        await teacher.get_chat(6)
    with pytest.raises(AccessDenied):  # 15: students cannot create chats
        await student.create_chat("Ученический")
    with pytest.raises(ChatNotFound):  # 927
        await teacher.get_chat(9999)


async def test_membership_errors(sandbox: Sandbox, sferum: Factory) -> None:
    sandbox.faults(chat_member_limit=2)
    vk = await sferum()
    chat_id = await vk.create_chat("Двое", [SMIRNOVA])
    with pytest.raises(OutOfLimits):  # 103
        await vk.add_chat_user(chat_id, STAFF[0])
    with pytest.raises(NotInOrganization):  # 1019
        await vk.add_chat_user(chat_id, UNKNOWN)
    with pytest.raises(UserNotInChat):  # 935
        await vk.remove_chat_user(chat_id, STAFF[0])


async def test_flood_control_surfaces_and_create_chat_is_not_repeated(
    sandbox: Sandbox, sferum: Factory
) -> None:
    sandbox.faults(flood_chats_per_hour=1)
    vk = await sferum()
    await vk.create_chat("Первый")
    with pytest.raises(FloodControl) as caught:
        await vk.create_chat("Второй")
    assert caught.value.error_code == 9 and "Сферум" in caught.value.user_message
    titles = [c["title"] for c in sandbox.dev("GET", "state")["sferum"]]
    assert titles.count("Первый") == 1 and "Второй" not in titles


async def test_expired_token_is_refreshed_once_then_the_call_repeated(
    sandbox: Sandbox, sferum: Factory
) -> None:
    dev = vk_tokens(sandbox, "pavlova")
    async with VkIdClient(f"{sandbox.url}/vkid", CLIENT_ID) as vkid:
        sandbox.faults(access_token_ttl_s=1)
        short = await vkid.refresh(dev["refresh_token"], "device-1")
        sandbox.clear_faults()
        await asyncio.sleep(1.1)
        current = {"refresh": short.refresh_token}

        async def refresh() -> str:
            tokens = await vkid.refresh(current["refresh"], "device-1")
            current["refresh"] = tokens.refresh_token
            return tokens.access_token

        vk = SferumClient(
            f"{sandbox.url}/sferum", short.access_token, on_token_expired=refresh, retry=FAST_RETRY
        )
        async with vk:
            first, second = await asyncio.gather(vk.get_chat(TEACHERS_ROOM), vk.users_get())
        assert first.id == TEACHERS_ROOM and second[0].id == PAVLOVA
        assert vk.stats.token_refreshes == 1  # one refresh for both calls
    async with SferumClient(f"{sandbox.url}/sferum", short.access_token) as plain:
        with pytest.raises(TokenInvalid) as caught:
            await plain.get_chat(TEACHERS_ROOM)
    assert caught.value.reason is not None and "expired" in caught.value.reason
    assert short.access_token not in repr(caught.value)
    assert short.access_token not in str(caught.value.request_params)


# --- captcha --------------------------------------------------------------------------------


async def test_captcha_round_trip(sandbox: Sandbox, sferum: Factory) -> None:
    sandbox.faults(captcha_rate=1, seed=14)
    vk = await sferum()
    with pytest.raises(CaptchaNeeded) as caught:
        await vk.get_chat(TEACHERS_ROOM)
    captcha = caught.value
    assert captcha.captcha_img.endswith(f"/sferum/captcha/{captcha.captcha_sid}.png")
    assert (await vk.captcha_image(captcha)).startswith(b"\x89PNG")
    with pytest.raises(CaptchaNeeded) as wrong:
        await captcha.solve("00000")  # a wrong answer: a new captcha
    key = sandbox.dev("GET", "captcha", params={"sid": wrong.value.captcha_sid})["key"]
    chat = await wrong.value.solve(key)
    assert chat.id == TEACHERS_ROOM


async def test_captcha_handler_answers_for_batches(sandbox: Sandbox, sferum: Factory) -> None:
    sandbox.faults(captcha_rate=1, seed=15)
    asked: list[str] = []

    async def handler(captcha: CaptchaNeeded) -> str:
        asked.append(captcha.captcha_sid)
        return str(sandbox.dev("GET", "captcha", params={"sid": captcha.captcha_sid})["key"])

    vk = await sferum(captcha_handler=handler)
    results = await vk.batch([MethodCall.get_chat(TEACHERS_ROOM), MethodCall.get_chat(9999)])
    assert results[0].ok and isinstance(results[1].error, ChatNotFound)
    assert len(asked) == 1 and vk.stats.captchas == 1


# --- faults ---------------------------------------------------------------------------------


async def test_create_chat_is_never_repeated_after_the_server_may_have_processed_it(
    sandbox: Sandbox, sferum: Factory
) -> None:
    vk = await sferum()
    sandbox.faults(disconnect_rate=1, seed=1)
    with pytest.raises(ConnectionLost) as lost:
        await vk.create_chat("Потерянный ответ")
    assert lost.value.maybe_processed and vk.stats.requests == 1
    sandbox.faults(error_rate=1, seed=1)
    with pytest.raises(ServerError):
        await vk.create_chat("Ошибка сервера")
    sandbox.faults(malformed_rate=1, seed=1)
    (garbled,) = await vk.batch([MethodCall.create_chat("Испорченный ответ")])
    assert isinstance(garbled.error, MalformedResponse)
    sandbox.clear_faults()
    titles = [c["title"] for c in sandbox.dev("GET", "state")["sferum"]]
    # The cut and the garbled answers came after the work; the 500 before it.
    assert titles.count("Потерянный ответ") == 1 and titles.count("Испорченный ответ") == 1
    assert "Ошибка сервера" not in titles
    assert vk.stats.requests == 3


async def test_reads_and_member_changes_ride_out_transient_faults(
    sandbox: Sandbox, sferum: Factory
) -> None:
    vk = await sferum(retry=RetryPolicy(attempts=8, base_delay=0.02, max_delay=0.1))
    sandbox.faults(error_rate=0.2, disconnect_rate=0.15, malformed_rate=0.15, seed=5)
    chat = await vk.get_chat(TEACHERS_ROOM)
    results = await vk.batch([MethodCall.add_chat_user(6, SMIRNOVA)] * 3)
    sandbox.clear_faults()
    assert chat.id == TEACHERS_ROOM and all(r.ok for r in results)
    assert vk.stats.requests > 2  # some attempts were lost and repeated
    assert SMIRNOVA in sferum_chat(sandbox, 6)["member_ids"]


# --- the rate limit -------------------------------------------------------------------------


async def test_error_6_from_an_extra_limit_is_waited_out_and_counted(
    sandbox: Sandbox, sferum: Factory
) -> None:
    vk = await sferum()
    sandbox.faults(rate_limit_rps=1)
    started = time.monotonic()
    chats = [await vk.get_chat(TEACHERS_ROOM) for _ in range(3)]
    elapsed = time.monotonic() - started
    sandbox.clear_faults()
    assert all(c.id == TEACHERS_ROOM for c in chats)
    assert vk.stats.rate_limited >= 1
    assert elapsed >= 1.0  # the penalised limiter waited whole windows


async def test_two_limiters_on_one_token_meet_error_6_and_recover(
    sandbox: Sandbox, sferum: Factory
) -> None:
    token = vk_tokens(sandbox, "pavlova")["access_token"]
    one, two = (
        SferumClient(f"{sandbox.url}/sferum", token, limiter=PerTokenLimiter(), retry=FAST_RETRY)
        for _ in range(2)
    )
    async with one, two:
        results = await asyncio.gather(
            *(client.get_chat(TEACHERS_ROOM) for client in (one, two) for _ in range(4))
        )
    assert len(results) == 8
    assert one.stats.rate_limited + two.stats.rate_limited >= 1


@pytest.mark.slow
async def test_a_burst_of_300_calls_never_meets_error_6(sandbox: Sandbox, sferum: Factory) -> None:
    vk = await sferum()
    rng = random.Random(3)
    started = time.monotonic()

    async def one(n: int) -> int:
        await asyncio.sleep(rng.uniform(0, 0.01))  # arrivals in no particular order
        if n % 3 == 0:
            return len(await vk.users_get())
        return (await vk.get_chat(TEACHERS_ROOM)).id

    results = await asyncio.gather(*(one(n) for n in range(300)))
    elapsed = time.monotonic() - started
    rps = 300 / elapsed
    print(f"300 calls in {elapsed:.1f} s: {rps:.3f} requests/s, error 6: {vk.stats.rate_limited}")
    assert len(results) == 300
    assert vk.stats.rate_limited == 0 and vk.stats.requests == 300
    assert 2.7 <= rps <= 3.0


async def test_unreachable_server_is_a_network_error() -> None:
    vk = SferumClient("http://127.0.0.1:9/sferum", "vk2.a.x", retry=RetryPolicy(attempts=1))
    async with vk:
        with pytest.raises(NetworkError) as caught:
            await vk.get_chat(1)
    assert not caught.value.maybe_processed
