"""A user as an operator inspects it: identifiers, attributes, merges and latest events.

Shared by the admin API (`GET /admin/users`) and the CLI (`heedful users show`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from heedful.attributes import service as attributes
from heedful.core import ids
from heedful.errors import InvalidRequest, NotFound
from heedful.events import service as events
from heedful.identity import identifiers as ident
from heedful.identity import repository
from heedful.identity import service as identity
from heedful.identity.identifiers import Identifier
from heedful.storage.models.events import Event

DEFAULT_EVENTS = 10


def lookup_identifier(
    phone: str | None = None, email: str | None = None, client_user_id: str | None = None
) -> Identifier:
    """Exactly one of the three, validated like the API validates it."""
    given = [
        (name, value)
        for name, value in (("phone", phone), ("email", email), ("clientUserId", client_user_id))
        if value is not None
    ]
    if len(given) != 1:
        raise InvalidRequest("Give exactly one of phone, email or clientUserId")
    name, value = given[0]
    if name == "phone":
        return ident.phone(value, "phone")
    if name == "email":
        return ident.email(value, "email")
    return ident.plain(ident.CLIENT_USER_ID, value, "clientUserId")


def find_users(
    session: Session,
    identifier: Identifier,
    company_id: int | None = None,
    event_limit: int = DEFAULT_EVENTS,
) -> list[dict[str, Any]]:
    """Every user (in `company_id`, or in every company) that `identifier` names."""
    owners = repository.owners_in_any_company(session, identifier, company_id)
    return [user_view(session, company, user_id, event_limit) for company, user_id in owners]


def user_view(
    session: Session, company_id: int, user_id: int, event_limit: int = DEFAULT_EVENTS
) -> dict[str, Any]:
    profile = identity.profile(session, company_id, user_id)
    if profile is None:
        raise NotFound(f"No user {user_id}")
    return {
        "id": user_id,
        "companyId": ids.COMPANY.encode(company_id),
        "createdAt": profile.created_at.isoformat(),
        "identifiers": [identifier_view(item) for item in profile.identifiers],
        "attributes": {
            name: {"type": kind, "value": value}
            for name, kind, value in attributes.attributes_of(session, company_id, user_id)
        },
        "mergedUserIds": profile.merged_user_ids,
        "eventCount": events.count_events(session, company_id, user_id),
        "latestEvents": [
            event_view(event)
            for event in events.latest_events(session, company_id, user_id, event_limit)
        ],
    }


def user_events(
    session: Session, user_id: int, limit: int, kind: str | None = None
) -> dict[str, Any]:
    """A user's latest events, by user id (an id merged away leads to its survivor)."""
    company_id = repository.company_of_user(session, user_id)
    if company_id is None:
        raise NotFound(f"No user {user_id}")
    current = identity.current_user_id(session, company_id, user_id)
    if current is None:
        raise NotFound(f"No user {user_id}")
    if kind is not None and kind not in events.KINDS:
        raise InvalidRequest(f"`kind` must be one of {', '.join(events.KINDS)}")
    found = events.latest_events(session, company_id, current, limit, kind)
    return {"userId": current, "events": [event_view(event) for event in found]}


def identifier_view(item: Identifier) -> dict[str, str]:
    view = {"kind": item.kind, "value": item.value}
    if item.kind == ident.CUSTOM:
        view["name"] = item.name
    return view


def event_view(event: Event) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": event.id,
        "kind": event.kind,
        "occurredAt": event.occurred_at.isoformat(),
        "receivedAt": event.received_at.isoformat(),
        "journeyEligible": event.journey_eligible,
    }
    optional = {
        "type": event.type,
        "properties": event.properties,
        "items": event.items,
        "externalEventId": event.external_event_id,
    }
    view.update({key: value for key, value in optional.items() if value is not None})
    return view
