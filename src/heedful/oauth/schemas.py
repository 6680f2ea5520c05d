"""Wire models for this area, named after the spec's DTOs."""

from __future__ import annotations

import msgspec


class GetMeResponseDto(msgspec.Struct):
    applicationName: str
    attentiveDomainName: str
    companyName: str
    contactEmail: str
    companyId: str


class CreateTokenResponseDto(msgspec.Struct, omit_defaults=True):
    """The token exchange's answer; `expires_in` is left out when tokens do not expire, and
    `scope` (RFC 6749 §5.1) names what was granted, which may be narrower than requested."""

    access_token: str
    id_token: str
    token_type: str
    scope: str
    expires_in: int | None = None


class TokenErrorDto(msgspec.Struct, omit_defaults=True):
    """An RFC 6749 §5.2 error."""

    error: str
    error_description: str
