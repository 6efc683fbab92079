"""Unit tests of the client's pure helpers: PKCE, roster filters, records, tokens, backoff."""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from sferum_desktop.api.errors import (
    ApiError,
    NetworkError,
    RateLimited,
    SessionExpired,
    retry_after_seconds,
)
from sferum_desktop.api.oneroster import Enrollment, RosterClass, RosterFilter, User, parse_record
from sferum_desktop.api.pkce import (
    AuthorizationFailed,
    PkceRequest,
    code_challenge_s256,
    new_code_verifier,
    parse_redirect,
)
from sferum_desktop.api.retry import RetryPolicy
from sferum_desktop.api.tokens import BearerTokens

# --- PKCE -------------------------------------------------------------------------------------


def test_s256_challenge_matches_rfc7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert code_challenge_s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


@given(st.integers(min_value=43, max_value=128))
def test_verifiers_are_valid_and_unique(length: int) -> None:
    verifier = new_code_verifier(length)
    assert re.fullmatch(r"[A-Za-z0-9\-._~]+", verifier)
    assert len(verifier) == length
    assert verifier != new_code_verifier(length)
    assert len(code_challenge_s256(verifier)) == 43


def test_verifier_length_and_alphabet_are_checked() -> None:
    with pytest.raises(ValueError, match="43 to 128"):
        new_code_verifier(42)
    with pytest.raises(ValueError, match="PKCE"):
        code_challenge_s256("short")
    with pytest.raises(ValueError, match="PKCE"):
        code_challenge_s256("ä" * 50)


def test_pkce_request_hides_its_secrets() -> None:
    request = PkceRequest()
    assert request.verifier not in repr(request)
    assert request.state not in repr(request)
    assert request.challenge == code_challenge_s256(request.verifier)


def test_parse_redirect_checks_state_and_errors() -> None:
    url = "http://127.0.0.1:5000/cb?code=abc&state=s1"
    assert parse_redirect(url, "s1") == "abc"
    with pytest.raises(AuthorizationFailed, match="state"):
        parse_redirect(url, "s2")
    with pytest.raises(AuthorizationFailed) as denied:
        parse_redirect("http://x/cb?error=access_denied&state=s1", "s1")
    assert denied.value.code == "access_denied"
    with pytest.raises(AuthorizationFailed, match="no code"):
        parse_redirect("http://x/cb?state=s1", "s1")


# --- roster filters ---------------------------------------------------------------------------


def test_filter_builds_oneroster_syntax() -> None:
    since = datetime(2026, 11, 29, 13, 0, 0, 123456, tzinfo=timezone(timedelta(hours=3)))
    built = RosterFilter.active().and_("dateLastModified", ">", since)
    assert str(built) == "status='active' AND dateLastModified>'2026-11-29T10:00:00.123Z'"
    assert str(RosterFilter.where("enabledUser", "=", False)) == "enabledUser='false'"
    assert str(RosterFilter.where("beginDate", ">=", date(2026, 9, 1))) == "beginDate>='2026-09-01'"
    assert not RosterFilter()


def test_filter_refuses_naive_datetimes_bad_fields_and_operators() -> None:
    with pytest.raises(ValueError, match="aware"):
        RosterFilter.changed_since(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="field"):
        RosterFilter.where("status' OR '1", "=", "x")
    with pytest.raises(ValueError, match="operator"):
        RosterFilter.where("status", " OR ", "x")


@given(st.text())
def test_filter_values_never_escape_their_quotes(value: str) -> None:
    try:
        built = str(RosterFilter.where("familyName", "=", value))
    except ValueError:
        assert "'" in value or any(ord(c) < 32 for c in value)
        return
    assert built == f"familyName='{value}'"
    assert built.count("'") == 2


# --- roster records ---------------------------------------------------------------------------

_USER = {
    "sourcedId": "u1",
    "status": "active",
    "dateLastModified": "2026-11-29T10:00:00.000Z",
    "enabledUser": "false",
    "givenName": "Павел",
    "familyName": "Артемов",
    "middleName": "Андреевич",
    "username": "artemov.pa",
    "roles": [{"roleType": "primary", "role": "student", "org": {"sourcedId": "school-1"}}],
    "agents": [{"sourcedId": "p1", "type": "user"}],
    "somethingNew": {"the server": "may add fields"},
}


def test_user_reads_oneroster_names_and_string_booleans() -> None:
    user = parse_record(User, _USER)
    assert user.enabled_user is False
    assert user.full_name == "Артемов Павел Андреевич"
    assert user.roles[0].org_id == "school-1"
    assert user.roles[0].is_active()
    assert user.agents == ["p1"]
    assert user.date_last_modified == datetime(2026, 11, 29, 10, tzinfo=UTC)
    assert parse_record(User, {**_USER, "enabledUser": "true"}).enabled_user is True


def test_records_are_strict_on_required_fields_and_booleans() -> None:
    with pytest.raises(ValidationError):
        parse_record(User, {k: v for k, v in _USER.items() if k != "familyName"})
    with pytest.raises(ValidationError):
        parse_record(User, {**_USER, "enabledUser": "maybe"})
    with pytest.raises(ValidationError):
        parse_record(User, {**_USER, "agents": [{"type": "user"}]})


def test_class_and_enrollment_references() -> None:
    group = parse_record(
        RosterClass,
        {
            "sourcedId": "g1",
            "status": "active",
            "dateLastModified": "2026-11-29T10:00:00.000Z",
            "title": "1А - Русский язык",
            "classType": "scheduled",
            "course": {"sourcedId": "c1"},
            "school": {"sourcedId": "s1"},
            "subjects": ["Русский язык"],
            "metadata": {"homeroom": {"sourcedId": "h1"}},
        },
    )
    assert (group.course_id, group.school_id, group.homeroom_id) == ("c1", "s1", "h1")
    enrollment = parse_record(
        Enrollment,
        {
            "sourcedId": "e1",
            "status": "tobedeleted",
            "dateLastModified": "2026-11-29T10:00:00.000Z",
            "user": {"sourcedId": "u1"},
            "class": {"sourcedId": "g1"},
            "school": {"sourcedId": "s1"},
            "role": "teacher",
            "primary": "true",
        },
    )
    assert enrollment.is_deleted and enrollment.primary and enrollment.class_id == "g1"


# --- tokens -----------------------------------------------------------------------------------


def test_tokens_repr_hides_secrets_and_round_trips() -> None:
    tokens = BearerTokens.issued("ACCESS-SECRET", "REFRESH-SECRET", 900)
    for text in (repr(tokens), str(tokens)):
        assert "SECRET" not in text
    assert BearerTokens.from_dict(tokens.to_dict()) == tokens


def test_tokens_refresh_margin_scales_with_lifetime() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    long_lived = BearerTokens.issued("a", "r", 900, now=now)
    assert not long_lived.needs_refresh(now + timedelta(seconds=839))
    assert long_lived.needs_refresh(now + timedelta(seconds=841))
    short = BearerTokens.issued("a", "r", 1, now=now)
    assert not short.needs_refresh(now + timedelta(seconds=0.8))
    assert short.needs_refresh(now + timedelta(seconds=0.95))


# --- errors and backoff -----------------------------------------------------------------------


def test_errors_have_russian_defaults_and_prefer_the_server_message() -> None:
    assert NetworkError(maybe_processed=False).user_message == (
        "Сервер ЭШ недоступен. Проверьте подключение к сети."
    )
    assert SessionExpired("Сеанс завершён.").user_message == "Сеанс завершён."
    error = RateLimited(retry_after=3, endpoint="GET /esh/api/v1/me", status=429, code="x")
    assert str(error) == "GET /esh/api/v1/me HTTP 429 x"
    assert isinstance(error, ApiError)


def test_retry_after_from_details_or_header() -> None:
    assert retry_after_seconds({}, {"retry_after": 12}) == 12
    assert retry_after_seconds({"retry-after": "7"}, {}) == 7
    assert retry_after_seconds({"retry-after": "soon"}, {}) is None
    later = (datetime.now(UTC) + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    waited = retry_after_seconds({"retry-after": later}, {})
    assert waited is not None and 25 <= waited <= 31


@given(st.integers(min_value=1, max_value=30), st.integers(min_value=0, max_value=2**31))
def test_backoff_is_full_jitter_within_the_capped_exponential(retry: int, seed: int) -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=8.0, rng=random.Random(seed))
    delay = policy.backoff(retry)
    assert 0.0 <= delay <= min(8.0, 0.5 * 2 ** (retry - 1))


def test_backoff_spreads_out() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=4.0, rng=random.Random(1))
    delays = [policy.backoff(3) for _ in range(200)]
    assert max(delays) > 3.0 and min(delays) < 1.0  # full jitter uses the whole range
