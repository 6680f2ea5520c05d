"""Wire models for custom attributes, named after the spec's DTOs."""

from __future__ import annotations

from typing import Any

import msgspec

from heedful.identity.schemas import EventUser


class CustomAttributesRequest(msgspec.Struct):
    properties: dict[str, Any]
    user: EventUser
