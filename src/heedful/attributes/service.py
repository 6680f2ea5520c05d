"""Use cases for custom attributes: validate, upsert onto the user's profile, emit webhooks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from heedful.attributes import kinds, repository
from heedful.attributes.schemas import CustomAttributesRequest
from heedful.core.clock import Clock
from heedful.errors import InvalidRequest
from heedful.identity import identifiers as ident
from heedful.identity import service as identity
from heedful.identity.identifiers import Identifier
from heedful.storage.db import ConcurrentChange
from heedful.webhooks.service import Subscriber, emit

MAX_NAME_LENGTH = 200
ATTRIBUTE_SET = "custom_attribute.set"


@dataclass(frozen=True)
class AttributeWrite:
    """A validated custom-attributes call, ready to be written."""

    company_id: int
    identifiers: tuple[Identifier, ...]
    properties: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class AttributeChange:
    definition_id: int
    name: str
    value: Any


def attribute_write(company_id: int, body: CustomAttributesRequest) -> AttributeWrite:
    """Check names and values (scalars only); raises InvalidRequest naming the field."""
    for name, value in body.properties.items():
        field = f"properties.{name}"
        if not name.strip():
            raise InvalidRequest("`properties` must not have an empty attribute name")
        if len(name) > MAX_NAME_LENGTH:
            raise InvalidRequest(
                f"`properties` attribute names must be at most {MAX_NAME_LENGTH} characters"
            )
        if isinstance(value, list):
            raise InvalidRequest(f"`{field}` must not be an array")
        if isinstance(value, dict):
            raise InvalidRequest(f"`{field}` must not be a nested object")
        if value is None:
            raise InvalidRequest(f"`{field}` must not be null; omit the attribute instead")
    return AttributeWrite(
        company_id, ident.from_event_user(body.user), tuple(body.properties.items())
    )


def set_batch(
    session: Session, clock: Clock, writes: Sequence[AttributeWrite]
) -> list[list[AttributeChange] | InvalidRequest]:
    """Apply a batch of the group-commit writer; a refused write changes nothing."""
    outcomes: list[list[AttributeChange] | InvalidRequest] = []
    for write in writes:
        try:
            outcomes.append(set_attributes(session, clock, write))
        except InvalidRequest as exc:
            outcomes.append(exc)
    return outcomes


def set_attributes(session: Session, clock: Clock, write: AttributeWrite) -> list[AttributeChange]:
    """Upsert the attributes onto the user (created if unknown); emits one
    `custom_attribute.set` per attribute whose value changed. Checks every type before writing,
    so a refused call writes nothing."""
    company_id = write.company_id
    known = repository.definitions(session, company_id, [name for name, _ in write.properties])
    for name, value in write.properties:
        if name in known and not kinds.accepts(known[name][1], value):
            raise InvalidRequest(
                f"`properties.{name}` must be a {known[name][1]}, the type its first value set"
            )
    now = clock.now()
    user_id = identity.resolve(session, clock, company_id, write.identifiers).user_id
    for name, value in write.properties:
        if name not in known:
            kind = kinds.infer(value)
            known[name] = (repository.create_definition(session, company_id, name, kind, now), kind)
    current = repository.values_of(session, company_id, user_id, [d for d, _ in known.values()])
    changes: list[AttributeChange] = []
    for name, value in write.properties:
        definition_id = known[name][0]
        if definition_id in current:
            if _same(current[definition_id], value):
                continue
            if not repository.update_value(session, company_id, user_id, definition_id, value, now):
                # The value read a moment ago is gone: the user was erased or merged away by a
                # transaction that held the row and has committed since. The group-commit
                # writer runs the batch again, which finds the user afresh.
                raise ConcurrentChange("the user's attribute is gone")
        else:
            repository.insert_value(session, company_id, user_id, definition_id, value, now)
        current[definition_id] = value
        changes.append(AttributeChange(definition_id, name, value))
    if changes:
        _emit_changes(session, clock, company_id, user_id, changes)
    return changes


def _same(old: Any, new: Any) -> bool:
    return type(old) is type(new) and old == new


def _emit_changes(
    session: Session, clock: Clock, company_id: int, user_id: int, changes: list[AttributeChange]
) -> None:
    profile = identity.profile(session, company_id, user_id)
    assert profile is not None
    subscriber = Subscriber(
        external_id=user_id,
        phone=profile.phone,
        email=profile.email,
        client_user_ids=profile.client_user_ids,
        custom_identifiers=profile.custom_identifiers,
    )
    for change in changes:
        user_property = {
            "id": str(change.definition_id),
            "name": change.name,
            "value": change.value,
        }
        emit(
            session, clock, company_id, ATTRIBUTE_SET, subscriber, {"user_property": user_property}
        )


def attributes_of(session: Session, company_id: int, user_id: int) -> list[tuple[str, str, Any]]:
    """(name, type, value) of each attribute on the user's profile."""
    return list(repository.profile_of(session, company_id, user_id))
