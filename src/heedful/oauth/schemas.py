"""Wire models for this area, named after the spec's DTOs."""

from __future__ import annotations

import msgspec


class GetMeResponseDto(msgspec.Struct):
    applicationName: str
    attentiveDomainName: str
    companyName: str
    contactEmail: str
    companyId: str
