"""Rules beyond the JSON schema: timestamps, custom event types and property keys."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from heedful.errors import InvalidRequest

# RFC 3339 date-time; the offset may also be written without a colon (`+0000`), as the spec's
# own examples do. The fraction may have any number of digits (RFC 3339: "." 1*DIGIT); only
# the first six are kept.
_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2}(?:\.\d+)?)([Zz]|[+-]\d{2}:?\d{2})"
)
TYPE_FORBIDDEN = frozenset("\"'(){}[]\\|,")
KEY_FORBIDDEN = frozenset('"{}[]\\|')
MAX_EXTERNAL_EVENT_ID = 255


def occurred_at(value: str | None, received_at: datetime, field: str = "occurredAt") -> datetime:
    """`value` as an aware UTC datetime; the receipt time when absent."""
    if value is None:
        return received_at
    match = _RFC3339.fullmatch(value)
    if match is None:
        raise InvalidRequest(
            f"`{field}` must be an RFC 3339 date-time with a UTC offset, "
            "like 2021-03-30T14:38:29+0000 or 2021-03-30T14:38:29.000Z"
        )
    date, time, offset = match.groups()
    if offset in ("Z", "z"):
        offset = "+00:00"
    elif ":" not in offset:
        offset = f"{offset[:3]}:{offset[3:]}"
    fraction = ""
    if "." in time:
        time, digits = time.split(".")
        fraction = "." + digits[:6].ljust(6, "0")
    try:
        parsed = datetime.fromisoformat(f"{date}T{time}{fraction}{offset}")
        # Year 1 east of UTC (or 9999 west of it) is a valid date-time whose UTC moment falls
        # outside what Python's datetime can hold.
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise InvalidRequest(f"`{field}` is not a valid date-time: {exc}") from exc


def event_type(value: str, field: str = "type") -> str:
    if not value.strip():
        raise InvalidRequest(f"`{field}` must not be empty")
    if TYPE_FORBIDDEN.isdisjoint(value):  # the usual case, without building a set
        return value
    bad = sorted(set(value) & TYPE_FORBIDDEN)
    if bad:
        raise InvalidRequest(f"`{field}` must not contain {' '.join(bad)}")
    return value


def property_keys(properties: dict[str, object], field: str = "properties") -> None:
    for key in properties:
        if KEY_FORBIDDEN.isdisjoint(key):
            continue
        bad = sorted(set(key) & KEY_FORBIDDEN)
        if bad:
            raise InvalidRequest(f"`{field}` key {key!r} must not contain {' '.join(bad)}")


def external_event_id(value: str | None, field: str = "externalEventId") -> str | None:
    if value is None:
        return None
    if not value.strip():
        raise InvalidRequest(f"`{field}` must not be empty")
    if len(value) > MAX_EXTERNAL_EVENT_ID:
        raise InvalidRequest(f"`{field}` must be at most {MAX_EXTERNAL_EVENT_ID} characters")
    return value
