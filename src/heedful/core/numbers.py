"""Whole numbers read from text that a client controls (query parameters, path segments,
headers, tokens, stored JSON)."""

from __future__ import annotations

# A 64-bit database integer holds every 18-digit number (and not every 19-digit one).
INT64_DIGITS = 18


def parse_digits(raw: str, max_digits: int = INT64_DIGITS) -> int | None:
    """`raw` as a number if it is 1 to `max_digits` ASCII digits; None otherwise.

    Not `str.isdigit()` alone: it also accepts digits such as "²" that `int()` refuses (a
    500), and an unbounded number can overflow the database's integers (another)."""
    if raw.isascii() and raw.isdigit() and len(raw) <= max_digits:
        return int(raw)
    return None
