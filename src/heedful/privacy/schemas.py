"""Wire models of the privacy area, named after the spec's DTOs."""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType


class PrivacyRequestAddDeleteEventDto(msgspec.Struct):
    subjectEmail: str | UnsetType = UNSET
    subjectPhone: str | UnsetType = UNSET
    requestMsg: str | UnsetType = UNSET
    # Spec B: used when neither email nor phone is given.
    clientUserId: str | UnsetType = UNSET


class PrivacyRequestDto(msgspec.Struct, omit_defaults=True):
    id: str
    processed: bool
    type: str
    requestDateTime: str
    subjectEmail: str | UnsetType = UNSET
    subjectPhone: str | UnsetType = UNSET
    requestMsg: str | UnsetType = UNSET
    processingStartDateTime: str | UnsetType = UNSET
    processingEndDateTime: str | UnsetType = UNSET
