"""Helpers for catalog tests: lines built from the spec's example product."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import msgspec

from heedful.catalog.sample import example_product


def product(number: int = 1, change: Callable[[dict[str, Any]], object] | None = None) -> bytes:
    """The spec's example product with ids made unique by `number`, optionally changed."""
    data = copy.deepcopy(example_product())
    data["id"] = f"PD-{number}"
    renames = {}
    for variant in data["variants"]:
        renames[variant["id"]] = f"{variant['id']}-{number}"
        variant["id"] = renames[variant["id"]]
    for image in data["images"]:
        image["variantIds"] = [renames[v] for v in image["variantIds"]]
    if change is not None:
        change(data)
    return msgspec.json.encode(data)


def ndjson(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)
