"""What of the vendor contract (`heedful.spec`) the app implements."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.routing import BaseRoute, Mount, Route


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
