"""Wire models for this area, named after the spec's DTOs."""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType


class CreateWebhookRequestDto(msgspec.Struct):
    url: str
    events: list[str]


class UpdateWebhookRequestDto(msgspec.Struct):
    """Each field optional; none nullable (the spec's types are not), so null is a 400."""

    url: str | UnsetType = UNSET
    events: list[str] | UnsetType = UNSET
    disabled: bool | UnsetType = UNSET


class CreateWebhookResponseDto(msgspec.Struct, omit_defaults=True):
    id: str
    url: str
    events: list[str]
    type: str
    # Absent while the webhook is enabled (the spec types it as a string, never null).
    disabledAt: str | None = None


class UpdateWebhookResponseDto(CreateWebhookResponseDto, omit_defaults=True):
    pass


class GetWebhookResponseDto(msgspec.Struct, omit_defaults=True):
    id: str
    url: str
    type: str
    events: list[str]
    companyId: str
    disabledAt: str | None = None


class GetWebhooksResponseDto(msgspec.Struct):
    webhooks: list[GetWebhookResponseDto]
