"""Webhook payloads (reference §3.2-3.3): the common envelope plus one builder per event type.

Every payload is snake_case JSON:

    {"type": "sms.subscribed", "timestamp": <Unix ms>,
     "company": {"display_name": ..., "company_id": "MDc6Q29tcGFueTU"},
     "subscriber": {"external_id": 16467358, "phone": ..., "email": ...},
     ...the event type's own objects ("subscription", "creative", "message", ...)}

A builder takes the caller's `parts` (the per-type objects, keyed by name) and returns them in
the documented shape: required fields must be there, unknown parts or fields are refused (a
`ValueError`: a programming error in the emitting area, caught by its tests), and fields the
event type fixes (the `channel` of an SMS event) are filled in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SMS_SUBSCRIBED = "sms.subscribed"
SMS_UNSUBSCRIBED = "sms.unsubscribed"
SMS_SENT = "sms.sent"
SMS_MESSAGE_LINK_CLICK = "sms.message_link_click"
EMAIL_SUBSCRIBED = "email.subscribed"
EMAIL_UNSUBSCRIBED = "email.unsubscribed"
EMAIL_MESSAGE_LINK_CLICK = "email.message_link_click"
EMAIL_OPENED = "email.opened"
CUSTOM_ATTRIBUTE_SET = "custom_attribute.set"


@dataclass(frozen=True)
class Subscriber:
    """Who the event is about, as the identity graph knows them."""

    external_id: int  # the identity graph's user id (a plain integer, as the vendor sends)
    phone: str | None = None
    email: str | None = None
    # Every client user id the user holds (a merge can leave several): the payload's field
    # is a list.
    client_user_ids: tuple[str, ...] = ()
    custom_identifiers: dict[str, str] = field(default_factory=dict)

    def to_payload(self) -> dict[str, Any]:
        """`{"external_id", "phone"?, "email"?, "external_identifiers"?}`: absent, never null."""
        out: dict[str, Any] = {"external_id": self.external_id}
        if self.phone is not None:
            out["phone"] = self.phone
        if self.email is not None:
            out["email"] = self.email
        identifiers: dict[str, Any] = {}
        if self.client_user_ids:
            identifiers["client_user_id"] = list(self.client_user_ids)
        if self.custom_identifiers:
            identifiers["custom_identifiers"] = dict(self.custom_identifiers)
        if identifiers:
            out["external_identifiers"] = identifiers
        return out


@dataclass(frozen=True)
class CompanyRef:
    display_name: str
    company_id: str  # the public id, `MDc6Q29tcGFueTU`

    def to_payload(self) -> dict[str, Any]:
        return {"display_name": self.display_name, "company_id": self.company_id}


Parts = Mapping[str, Any]
Builder = Callable[[Parts], dict[str, Any]]


def _shape(
    parts: Parts,
    name: str,
    required: tuple[str, ...],
    optional: tuple[str, ...] = (),
    fixed: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """`parts[name]` with exactly the allowed fields, in the documented order."""
    given = parts.get(name)
    if not isinstance(given, Mapping):
        raise ValueError(f"webhook payload part `{name}` is required and must be an object")
    fixed = fixed or {}
    allowed = (*required, *optional, *fixed)
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ValueError(f"webhook payload part `{name}` has unknown fields: {unknown}")
    missing = [key for key in required if given.get(key) is None]
    if missing:
        raise ValueError(f"webhook payload part `{name}` lacks required fields: {missing}")
    for key, value in fixed.items():
        if given.get(key, value) != value:
            raise ValueError(f"webhook payload part `{name}.{key}` must be {value!r}")
    out: dict[str, Any] = {}
    for key in allowed:
        if key in fixed:
            out[key] = fixed[key]
        elif given.get(key) is not None:
            out[key] = given[key]
    return out


def _only(parts: Parts, *names: str) -> None:
    unknown = sorted(set(parts) - set(names))
    if unknown:
        raise ValueError(f"unknown webhook payload parts: {unknown} (expected {list(names)})")


def _subscribed(parts: Parts) -> dict[str, Any]:
    """`*.subscribed`: the sign-up source as `creative` (optional) and `subscription.type`."""
    _only(parts, "creative", "subscription")
    out: dict[str, Any] = {}
    if "creative" in parts:
        out["creative"] = _shape(parts, "creative", ("name", "type"), ("subtype",))
    out["subscription"] = _shape(parts, "subscription", ("type",))
    return out


def _unsubscribed(parts: Parts) -> dict[str, Any]:
    _only(parts, "subscription")
    return {"subscription": _shape(parts, "subscription", ("type",))}


def sms_subscribed(parts: Parts) -> dict[str, Any]:
    return _subscribed(parts)


def email_subscribed(parts: Parts) -> dict[str, Any]:
    return _subscribed(parts)


def sms_unsubscribed(parts: Parts) -> dict[str, Any]:
    return _unsubscribed(parts)


def email_unsubscribed(parts: Parts) -> dict[str, Any]:
    return _unsubscribed(parts)


def sms_sent(parts: Parts) -> dict[str, Any]:
    """`message {id, type, channel: "TEXT", text}`."""
    _only(parts, "message")
    message = _shape(parts, "message", ("id", "type", "text"), fixed={"channel": "TEXT"})
    return {
        "message": {
            key: message[key] for key in ("id", "type", "channel", "text") if key in message
        }
    }


def email_opened(parts: Parts) -> dict[str, Any]:
    """`message {id, channel: "EMAIL", name, type}`."""
    _only(parts, "message")
    message = _shape(parts, "message", ("id",), ("name", "type"), fixed={"channel": "EMAIL"})
    return {
        "message": {
            key: message[key] for key in ("id", "channel", "name", "type") if key in message
        }
    }


def _link_click(parts: Parts, channel: str) -> dict[str, Any]:
    _only(parts, "message_link_click")
    click = _shape(
        parts,
        "message_link_click",
        ("link_id", "message_id", "link_target"),
        ("message_type",),
        fixed={"channel": channel},
    )
    order = ("link_id", "message_id", "channel", "link_target", "message_type")
    return {"message_link_click": {key: click[key] for key in order if key in click}}


def sms_message_link_click(parts: Parts) -> dict[str, Any]:
    """`message_link_click {link_id, message_id, channel: "TEXT", link_target, message_type}`."""
    return _link_click(parts, "TEXT")


def email_message_link_click(parts: Parts) -> dict[str, Any]:
    """`message_link_click {link_id, message_id, channel: "EMAIL", link_target, message_type}`."""
    return _link_click(parts, "EMAIL")


def custom_attribute_set(parts: Parts) -> dict[str, Any]:
    """`user_property {id?, name, value}`."""
    _only(parts, "user_property")
    prop = _shape(parts, "user_property", ("name", "value"), ("id",))
    return {"user_property": {key: prop[key] for key in ("id", "name", "value") if key in prop}}


BUILDERS: dict[str, Builder] = {
    SMS_SUBSCRIBED: sms_subscribed,
    SMS_UNSUBSCRIBED: sms_unsubscribed,
    SMS_SENT: sms_sent,
    SMS_MESSAGE_LINK_CLICK: sms_message_link_click,
    EMAIL_SUBSCRIBED: email_subscribed,
    EMAIL_UNSUBSCRIBED: email_unsubscribed,
    EMAIL_MESSAGE_LINK_CLICK: email_message_link_click,
    EMAIL_OPENED: email_opened,
    CUSTOM_ATTRIBUTE_SET: custom_attribute_set,
}

# What a webhook may subscribe to: the eight documented names plus `sms.unsubscribed`
# (Attentive's own Postman collection subscribes it). Case-sensitive.
EVENT_TYPES: tuple[str, ...] = tuple(BUILDERS)


def unix_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("occurred_at must be timezone-aware")
    return int(moment.timestamp() * 1000)


def build_parts(event_type: str, parts: Parts) -> dict[str, Any]:
    """The per-type objects of `event_type`, validated; `ValueError` on an unknown type."""
    builder = BUILDERS.get(event_type)
    if builder is None:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    return builder(parts)


def build_payload(
    event_type: str,
    *,
    occurred_at: datetime,
    company: CompanyRef,
    subscriber: Subscriber,
    parts: Parts,
) -> dict[str, Any]:
    """The whole payload: envelope first, then the event type's objects."""
    return envelope(event_type, occurred_at, company, subscriber, build_parts(event_type, parts))


def envelope(
    event_type: str,
    occurred_at: datetime,
    company: CompanyRef,
    subscriber: Subscriber,
    built_parts: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "type": event_type,
        "timestamp": unix_ms(occurred_at),
        "company": company.to_payload(),
        "subscriber": subscriber.to_payload(),
        **built_parts,
    }
