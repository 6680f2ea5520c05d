"""Public ids in the vendor's style: unpadded base64 of "<2-digit type>:<TypeName><number>".

`MDc6Q29tcGFueTI` is `07:Company2`; `MjU6Q29tcGFueUFwcGxpY2F0aW9uV2ViaG9vazIy` is
`25:CompanyApplicationWebhook22`. heedful keeps integer primary keys and encodes them
only at the API boundary.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class IdKind:
    code: str
    type_name: str

    def encode(self, number: int) -> str:
        raw = f"{self.code}:{self.type_name}{number}".encode("ascii")
        return base64.b64encode(raw).decode("ascii").rstrip("=")

    def decode(self, public_id: str) -> int | None:
        """The number inside `public_id`, or None when it is not an id of this kind."""
        try:
            padded = public_id + "=" * (-len(public_id) % 4)
            raw = base64.b64decode(padded, validate=True).decode("ascii")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        match = re.fullmatch(rf"{self.code}:{self.type_name}([1-9][0-9]{{0,17}})", raw)
        return int(match.group(1)) if match else None


COMPANY = IdKind("07", "Company")
WEBHOOK = IdKind("25", "CompanyApplicationWebhook")
MESSAGE = IdKind("07", "Message")
APPLICATION = IdKind("12", "CompanyApplication")
