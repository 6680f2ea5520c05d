"""Retry delays: exponential, capped, with equal jitter."""

from __future__ import annotations

import random
from datetime import timedelta
from itertools import pairwise

import pytest

from heedful.jobs.backoff import retry_delay

BASE, CAP = 2.0, 600.0


def ceiling(attempts: int) -> float:
    return min(CAP, BASE ** max(attempts, 1))


@pytest.mark.parametrize("attempts", [0, 1, 2, 3, 5, 8, 9, 10, 12, 30])
def test_jitter_stays_between_half_the_ceiling_and_the_ceiling(attempts: int) -> None:
    rng = random.Random(attempts)
    low, high = timedelta(seconds=ceiling(attempts) / 2), timedelta(seconds=ceiling(attempts))
    delays = [retry_delay(attempts, base=BASE, cap=CAP, rng=rng) for _ in range(500)]

    assert all(low <= delay <= high for delay in delays)
    # It is jitter, not a constant: the draws spread over the range.
    assert len(set(delays)) > 400
    assert min(delays) < low + (high - low) / 4
    assert max(delays) > high - (high - low) / 4


def test_delay_grows_with_attempts_until_the_cap() -> None:
    means = []
    for attempts in range(1, 13):
        rng = random.Random(7)
        delays = [retry_delay(attempts, base=BASE, cap=CAP, rng=rng) for _ in range(200)]
        means.append(sum(d.total_seconds() for d in delays) / len(delays))

    growing = means[:9]  # 2**9 = 512 < 600 <= 2**10
    assert all(later > earlier * 1.8 for earlier, later in pairwise(growing))
    # Same draws: an attempt never waits less than the one before it.
    for attempts in range(1, 40):
        a = retry_delay(attempts, base=BASE, cap=CAP, rng=random.Random(attempts))
        b = retry_delay(attempts + 1, base=BASE, cap=CAP, rng=random.Random(attempts))
        assert b >= a


@pytest.mark.parametrize("attempts", [10, 11, 50, 1023, 1024, 5000, 10**6])
def test_delay_never_exceeds_the_cap_even_for_huge_attempt_counts(attempts: int) -> None:
    rng = random.Random(attempts)
    for _ in range(50):
        delay = retry_delay(attempts, base=BASE, cap=CAP, rng=rng)
        assert timedelta(seconds=CAP / 2) <= delay <= timedelta(seconds=CAP)


def test_seeded_rng_makes_the_delay_reproducible() -> None:
    first = [retry_delay(n, base=BASE, cap=CAP, rng=random.Random(99)) for n in range(1, 6)]
    second = [retry_delay(n, base=BASE, cap=CAP, rng=random.Random(99)) for n in range(1, 6)]

    assert first == second
