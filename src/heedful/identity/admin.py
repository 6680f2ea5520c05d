"""Admin API for users: look a user up by identifier, list a user's events."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from heedful.admin.guard import admin_only
from heedful.core import ids
from heedful.errors import InvalidRequest, NotFound
from heedful.http.responses import json_response
from heedful.identity import inspection
from heedful.runtime import Runtime

MAX_LIMIT = 500


@admin_only
async def find_users(request: Request, runtime: Runtime) -> Response:
    """`?phone=` | `?email=` | `?clientUserId=` (and optional `company`): matching users."""
    query = request.query_params
    identifier = inspection.lookup_identifier(
        query.get("phone"), query.get("email"), query.get("clientUserId")
    )
    company_id = _company(query.get("company"))
    event_limit = _limit("events", query.get("events"), inspection.DEFAULT_EVENTS)
    users = await runtime.read(inspection.find_users, identifier, company_id, event_limit)
    return json_response({"users": users})


@admin_only
async def user_events(request: Request, runtime: Runtime) -> Response:
    """The latest events of user `id` (`?limit=`, `?kind=`)."""
    raw = request.path_params["user_id"]
    if not _digits(raw) or len(raw) > 18:
        raise NotFound(f"No user {raw}")
    limit = _limit("limit", request.query_params.get("limit"), 50)
    kind = request.query_params.get("kind")
    return json_response(await runtime.read(inspection.user_events, int(raw), limit, kind))


def _company(raw: str | None) -> int | None:
    if raw is None:
        return None
    number = ids.COMPANY.decode(raw) or (int(raw) if _digits(raw) and len(raw) < 19 else None)
    if number is None:
        raise InvalidRequest("`company` must be a company id")
    return number


def _limit(name: str, raw: str | None, default: int) -> int:
    if raw is None:
        return default
    if not _digits(raw) or len(raw) > 6 or not 1 <= int(raw) <= MAX_LIMIT:
        raise InvalidRequest(f"`{name}` must be a whole number from 1 to {MAX_LIMIT}")
    return int(raw)


def _digits(raw: str) -> bool:
    # Not str.isdigit() alone: it accepts "²", which int() refuses.
    return raw.isascii() and raw.isdigit()


routes = [
    Route("/users", find_users, methods=["GET"]),
    Route("/users/{user_id}/events", user_events, methods=["GET"]),
]
