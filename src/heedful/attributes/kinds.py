"""Attribute value types: the first value seen fixes one; later values must read as it.

string accepts any scalar; number accepts numbers and numeric strings ("24", "50.89");
boolean accepts true/false and the strings "true"/"false" in any case. A first value that is a
numeric string makes a number attribute, as the vendor documents; a first "true"/"false" string
makes a boolean one.
"""

from __future__ import annotations

import re
from typing import Any

STRING, NUMBER, BOOLEAN = "string", "number", "boolean"
TYPES = (STRING, NUMBER, BOOLEAN)
_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def _is_number_text(value: str) -> bool:
    return _NUMBER.fullmatch(value.strip()) is not None and bool(value.strip())


def _is_boolean_text(value: str) -> bool:
    return value.strip().lower() in ("true", "false")


def infer(value: Any) -> str:
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int | float):
        return NUMBER
    if isinstance(value, str) and _is_number_text(value):
        return NUMBER
    if isinstance(value, str) and _is_boolean_text(value):
        return BOOLEAN
    return STRING


def accepts(kind: str, value: Any) -> bool:
    if kind == STRING:
        return True
    if kind == NUMBER:
        if isinstance(value, bool):
            return False
        return isinstance(value, int | float) or (isinstance(value, str) and _is_number_text(value))
    if kind == BOOLEAN:
        return isinstance(value, bool) or (isinstance(value, str) and _is_boolean_text(value))
    return False
