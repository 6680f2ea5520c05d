"""The retry delay of a message whose transport failed."""

from __future__ import annotations

from datetime import timedelta

from heedful.messaging.service import MAX_RETRY_DELAY, SendPolicy


def test_the_delay_doubles_per_attempt_up_to_the_cap() -> None:
    policy = SendPolicy(retry_base=30.0)

    delays = [policy.delay(attempts).total_seconds() for attempts in (1, 2, 3, 8)]

    assert delays == [30.0, 60.0, 120.0, MAX_RETRY_DELAY]


def test_any_number_of_attempts_has_a_delay() -> None:
    # HEEDFUL_MESSAGE_MAX_ATTEMPTS has no upper bound; 2**1024 does not fit a float.
    assert SendPolicy().delay(5000) == timedelta(seconds=MAX_RETRY_DELAY)
