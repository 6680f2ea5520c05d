"""Wire models for identity, named after the spec's DTOs; `EventUser` is shared by events and
attributes."""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType


class CustomIdentifierDto(msgspec.Struct):
    name: str | UnsetType = UNSET
    value: str | UnsetType = UNSET


class ExternalIdentifiers(msgspec.Struct):
    clientUserId: str | UnsetType = UNSET
    customIdentifiers: list[CustomIdentifierDto] | UnsetType = UNSET


class EventUser(msgspec.Struct, forbid_unknown_fields=True):
    """`additionalProperties: false`; phone or email required (Spec A), checked by the service."""

    phone: str | UnsetType = UNSET
    email: str | UnsetType = UNSET
    externalIdentifiers: ExternalIdentifiers | UnsetType = UNSET


class CustomIdentifierDto1(msgspec.Struct):
    name: str
    value: str


class IdentifyRequestDto(msgspec.Struct):
    phone: str | UnsetType = UNSET
    email: str | UnsetType = UNSET
    shopifyId: str | UnsetType = UNSET
    klaviyoId: str | UnsetType = UNSET
    clientUserId: str | UnsetType = UNSET
    customIdentifiers: list[CustomIdentifierDto1] | UnsetType = UNSET
