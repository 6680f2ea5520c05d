"""Use cases for events: validate into `NewEvent`s, record them in batches, read them back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple, TypeVar

import msgspec
from msgspec import UnsetType
from sqlalchemy.orm import Session

from heedful.core.clock import Clock
from heedful.events import repository, validation
from heedful.events.schemas import CustomEventsRequest, ProductViewRequest, PurchaseRequest
from heedful.identity import identifiers as ident
from heedful.identity import service as identity
from heedful.identity.identifiers import Identifier
from heedful.storage.models.events import Event

PRODUCT_VIEW, ADD_TO_CART, PURCHASE, CUSTOM = "product_view", "add_to_cart", "purchase", "custom"
KINDS = (PRODUCT_VIEW, ADD_TO_CART, PURCHASE, CUSTOM)
T = TypeVar("T")
# Events that happened longer ago than this are stored but trigger no journey.
JOURNEY_WINDOW = timedelta(hours=12)


class NewEvent(NamedTuple):
    """A validated event, ready to be written (a named tuple: several per millisecond are
    made, and a frozen dataclass costs several times as much to build)."""

    company_id: int
    kind: str
    identifiers: tuple[Identifier, ...]
    occurred_at: datetime
    received_at: datetime
    type: str | None = None
    properties: dict[str, Any] | None = None
    items: list[dict[str, Any]] | None = None
    external_event_id: str | None = None

    @property
    def journey_eligible(self) -> bool:
        return self.occurred_at >= self.received_at - JOURNEY_WINDOW


def ecommerce_event(
    company_id: int, kind: str, body: ProductViewRequest, received_at: datetime
) -> NewEvent:
    """A product view, add-to-cart or purchase; raises InvalidRequest naming the field."""
    properties: dict[str, Any] | None = None
    if isinstance(body, PurchaseRequest):
        extra = {"orderId": body.orderId, "salesChannel": body.salesChannel}
        given = {key: value for key, value in extra.items() if not isinstance(value, UnsetType)}
        properties = msgspec.to_builtins(given) or None
    return NewEvent(
        company_id=company_id,
        kind=kind,
        identifiers=ident.from_event_user(body.user),
        occurred_at=validation.occurred_at(_given(body.occurredAt), received_at),
        received_at=received_at,
        properties=properties,
        items=msgspec.to_builtins(body.items),
    )


def custom_event(company_id: int, body: CustomEventsRequest, received_at: datetime) -> NewEvent:
    """A custom event; raises InvalidRequest naming the field."""
    properties = _given(body.properties)
    if properties is not None:
        validation.property_keys(properties)
    return NewEvent(
        company_id=company_id,
        kind=CUSTOM,
        identifiers=ident.from_event_user(body.user),
        occurred_at=validation.occurred_at(_given(body.occurredAt), received_at),
        received_at=received_at,
        type=validation.event_type(body.type),
        properties=properties,
        external_event_id=validation.external_event_id(_given(body.externalEventId)),
    )


def _given(value: T | UnsetType) -> T | None:
    return None if isinstance(value, UnsetType) else value


def record_batch(session: Session, clock: Clock, events: Sequence[NewEvent]) -> list[bool]:
    """Store `events` (a batch of the group-commit writer): True for each one newly stored,
    False for a repeated externalEventId (stored once, answered like the first)."""
    outcomes = [True] * len(events)
    seen: set[tuple[int, str]] = set()
    stored = _stored_external_ids(session, events)
    for position, event in enumerate(events):
        if event.external_event_id is None:
            continue
        key = (event.company_id, event.external_event_id)
        if key in stored or key in seen:
            outcomes[position] = False
        seen.add(key)
    users = _resolve_users(
        session, clock, [e for e, new in zip(events, outcomes, strict=True) if new]
    )
    dialect = session.get_bind().dialect.name
    rows = [
        repository.database_row(dialect, _row(event, users[(event.company_id, event.identifiers)]))
        for event, new in zip(events, outcomes, strict=True)
        if new
    ]
    repository.insert_events(session, rows)
    return outcomes


def record(session: Session, clock: Clock, event: NewEvent) -> bool:
    """Store one event in the caller's transaction (the CLI and tests; HTTP uses batches)."""
    return record_batch(session, clock, [event])[0]


def _stored_external_ids(session: Session, events: Sequence[NewEvent]) -> set[tuple[int, str]]:
    wanted: dict[int, set[str]] = {}
    for event in events:
        if event.external_event_id is not None:
            wanted.setdefault(event.company_id, set()).add(event.external_event_id)
    return {
        (company_id, value)
        for company_id, values in wanted.items()
        for value in repository.stored_external_ids(session, company_id, values)
    }


def _resolve_users(
    session: Session, clock: Clock, events: Sequence[NewEvent]
) -> dict[tuple[int, tuple[Identifier, ...]], int]:
    """Each distinct (company, identifiers) resolved once; users merged by a later resolution
    in the same batch are followed to their survivor."""
    resolved: dict[tuple[int, tuple[Identifier, ...]], int] = {}
    survivor_of: dict[int, int] = {}
    for event in events:
        key = (event.company_id, event.identifiers)
        if key in resolved:
            continue
        resolution = identity.resolve(session, clock, event.company_id, event.identifiers)
        resolved[key] = resolution.user_id
        for merged in resolution.merged_user_ids:
            survivor_of[merged] = resolution.user_id
    if survivor_of:
        for key, user_id in resolved.items():
            while user_id in survivor_of:
                user_id = survivor_of[user_id]
            resolved[key] = user_id
    return resolved


def _row(event: NewEvent, user_id: int) -> tuple[Any, ...]:
    """The event's values in `repository.INSERT_COLUMNS` order."""
    return (
        event.company_id,
        user_id,
        event.kind,
        event.type,
        event.properties,
        event.items,
        event.external_event_id,
        event.occurred_at,
        event.received_at,
        event.journey_eligible,
    )


def latest_events(
    session: Session, company_id: int, user_id: int, limit: int = 20, kind: str | None = None
) -> Sequence[Event]:
    return repository.latest_for_user(session, company_id, user_id, limit, kind)


def count_events(session: Session, company_id: int, user_id: int) -> int:
    return repository.count_for_user(session, company_id, user_id)


def find_by_external_id(session: Session, company_id: int, external_event_id: str) -> Event | None:
    return repository.by_external_id(session, company_id, external_event_id)
