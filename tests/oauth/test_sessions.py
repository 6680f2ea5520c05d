"""The consent session cookie and the secret that signs it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from heedful.config import Settings
from heedful.oauth import sessions

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SECRET = "s" * 40


def test_a_session_round_trips_until_it_expires() -> None:
    session = sessions.new_session(NOW).signed_in(42, NOW)
    cookie = sessions.encode(session, SECRET)

    assert sessions.decode(cookie, SECRET, NOW) == session
    assert sessions.decode(cookie, SECRET, NOW + sessions.LIFETIME - timedelta(seconds=1))
    assert sessions.decode(cookie, SECRET, NOW + sessions.LIFETIME) is None


@pytest.mark.parametrize("tamper", ["payload", "signature", "secret", "garbage"])
def test_a_tampered_cookie_is_no_session(tamper: str) -> None:
    cookie = sessions.encode(sessions.new_session(NOW).signed_in(42, NOW), SECRET)
    payload, signature = cookie.split(".")
    secret = SECRET
    if tamper == "payload":  # claim another company, keep the signature
        other = sessions.encode(sessions.new_session(NOW).signed_in(43, NOW), SECRET)
        cookie = f"{other.split('.')[0]}.{signature}"
    elif tamper == "signature":
        cookie = f"{payload}.{signature[::-1]}"
    elif tamper == "secret":  # heedful restarted with another (random development) key
        secret = "t" * 40
    else:
        cookie = "not a cookie!."

    assert sessions.decode(cookie, secret, NOW) is None


def test_csrf_tokens_compare_exactly() -> None:
    session = sessions.new_session(NOW)

    assert session.csrf_matches(session.csrf)
    assert not session.csrf_matches(session.csrf[:-1])
    assert not session.csrf_matches(None)
    assert session.signed_in(1, NOW).csrf != session.csrf  # a sign-in gets a fresh nonce


@pytest.mark.parametrize("value", [None, "change-me", "secret", "short-but-real"])
def test_production_refuses_a_missing_or_placeholder_secret_key(value: str | None) -> None:
    extra = {} if value is None else {"secret_key": value}

    with pytest.raises(ValidationError, match="HEEDFUL_SECRET_KEY"):
        Settings(_env_file=None, env="production", **extra)  # type: ignore[call-arg, arg-type]


def test_production_keeps_a_real_secret_key() -> None:
    key = "k" * 32

    settings = Settings(_env_file=None, env="production", secret_key=key)  # type: ignore[call-arg, arg-type]

    assert settings.secret_key.get_secret_value() == key


def test_development_makes_up_a_random_key_unless_one_is_set() -> None:
    first = Settings(_env_file=None)  # type: ignore[call-arg]
    second = Settings(_env_file=None, secret_key="change-me")  # type: ignore[call-arg, arg-type]
    chosen = Settings(_env_file=None, secret_key="mine")  # type: ignore[call-arg, arg-type]

    assert len(first.secret_key.get_secret_value()) >= 32
    assert first.secret_key.get_secret_value() != second.secret_key.get_secret_value()
    assert second.secret_key.get_secret_value() != "change-me"
    assert chosen.secret_key.get_secret_value() == "mine"
