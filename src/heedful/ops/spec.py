"""The vendor contract heedful serves: the pinned OpenAPI document and what is implemented."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from starlette.routing import BaseRoute, Mount, Route

HTTP_METHODS = ("get", "put", "post", "delete", "patch")


@dataclass(frozen=True)
class SpecOperation:
    operation_id: str
    method: str
    path: str
    summary: str
    description: str
    tag: str
    scopes: tuple[str, ...]


@functools.cache
def spec_bytes() -> bytes:
    return resources.files("heedful.spec").joinpath("attentive-v1.json").read_bytes()


def load_spec() -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(spec_bytes())
    return spec


def spec_operations(spec: dict[str, Any] | None = None) -> list[SpecOperation]:
    spec = spec or load_spec()
    found = []
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            op = item.get(method)
            if op is None:
                continue
            scopes = tuple(s for req in op.get("security", []) for s in req.get("OAuthFlow", []))
            found.append(
                SpecOperation(
                    operation_id=op["operationId"],
                    method=method.upper(),
                    path=path,
                    summary=op.get("summary", ""),
                    description=op.get("description", ""),
                    tag=(op.get("tags") or ["Other"])[0],
                    scopes=scopes,
                )
            )
    return found


def implemented_operation_ids(routes: Iterable[BaseRoute]) -> set[str]:
    """operationIds of every route built with `@operation` or `@ingestion` (their endpoints
    carry `operation_id`)."""
    found: set[str] = set()
    for route in routes:
        if isinstance(route, Mount):
            found |= implemented_operation_ids(route.routes)
        elif isinstance(route, Route):
            operation_id = getattr(route.endpoint, "operation_id", None)
            if operation_id:
                found.add(operation_id)
    return found
