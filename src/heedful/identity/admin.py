"""Admin API for users: look a user up by identifier, list a user's events."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from heedful.admin.guard import admin_only
from heedful.core.numbers import parse_digits
from heedful.errors import InvalidRequest, NotFound, quoted
from heedful.http.responses import json_response
from heedful.identity import inspection
from heedful.identity.identifiers import Identifier
from heedful.oauth import service as oauth_service
from heedful.runtime import Runtime

MAX_LIMIT = 500


@admin_only
async def find_users(request: Request, runtime: Runtime) -> Response:
    """`?phone=` | `?email=` | `?clientUserId=` (and optional `company`): matching users."""
    query = request.query_params
    identifier = inspection.lookup_identifier(
        query.get("phone"), query.get("email"), query.get("clientUserId")
    )
    event_limit = _limit("events", query.get("events"), inspection.DEFAULT_EVENTS)
    users = await runtime.read(_find_users, identifier, query.get("company"), event_limit)
    return json_response({"users": users})


def _find_users(
    session: Session, identifier: Identifier, company: str | None, event_limit: int
) -> list[dict[str, Any]]:
    """`company`: an id, number or exact name, as the other admin lookups and the CLI take."""
    company_id = oauth_service.find_company(session, company).id if company else None
    return inspection.find_users(session, identifier, company_id, event_limit)


@admin_only
async def user_events(request: Request, runtime: Runtime) -> Response:
    """The latest events of user `id` (`?limit=`, `?kind=`)."""
    raw = request.path_params["user_id"]
    user_id = parse_digits(raw)
    if user_id is None:
        raise NotFound(f"No user {quoted(raw)}")
    limit = _limit("limit", request.query_params.get("limit"), 50)
    kind = request.query_params.get("kind")
    return json_response(await runtime.read(inspection.user_events, user_id, limit, kind))


def _limit(name: str, raw: str | None, default: int) -> int:
    if raw is None:
        return default
    limit = parse_digits(raw, 6)
    if limit is None or not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"`{name}` must be a whole number from 1 to {MAX_LIMIT}")
    return limit


routes = [
    Route("/users", find_users, methods=["GET"]),
    Route("/users/{user_id}/events", user_events, methods=["GET"]),
]
