"""Retry delays: exponential with jitter, capped."""

from __future__ import annotations

import random
from datetime import timedelta


def retry_delay(
    attempts: int, *, base: float, cap: float, rng: random.Random | None = None
) -> timedelta:
    """Delay before the next try after `attempts` failures: up to base**attempts, capped,
    with "equal jitter" (half fixed, half random) so a burst of failures spreads out."""
    try:
        ceiling = min(cap, base ** max(attempts, 1))
    except OverflowError:  # float power past ~1e308: far beyond any cap
        ceiling = cap
    jitter = (rng or random).random()
    return timedelta(seconds=ceiling / 2 + jitter * ceiling / 2)
