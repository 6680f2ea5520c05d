"""Wire models of the admin API."""

from __future__ import annotations

from typing import Annotated

import msgspec

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class CreateCompanyRequest(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    domain: Annotated[str, msgspec.Meta(min_length=1, max_length=256)] | None = None
    contactEmail: Annotated[str, msgspec.Meta(min_length=3, max_length=320)] | None = None
