"""The vendor contract heedful serves: the pinned OpenAPI document (`attentive-v1.json`,
beside this file) and its operations. No web framework here: settings read it too."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

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
    return resources.files(__package__).joinpath("attentive-v1.json").read_bytes()


@functools.lru_cache(maxsize=4)
def served_spec(base_url: str) -> bytes:
    """The pinned spec as heedful serves it: `servers` names this heedful first (a client
    generated from it must not default to the vendor's production API), then the vendor's.
    Nothing else differs from the pinned file."""
    spec = load_spec()
    here = {"url": f"{base_url.rstrip('/')}/v1", "description": "heedful"}
    spec["servers"] = [here, *spec.get("servers", [])]
    return json.dumps(spec, ensure_ascii=False, indent=2).encode()


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


@functools.cache
def operation_ids() -> frozenset[str]:
    """Every operationId of the pinned spec."""
    return frozenset(operation.operation_id for operation in spec_operations())
