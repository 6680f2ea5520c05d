"""Admin API for privacy requests: list them with their state and what processing removed."""

from __future__ import annotations

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from heedful.admin.guard import admin_only
from heedful.core import ids
from heedful.core.numbers import parse_digits
from heedful.errors import InvalidRequest, NotFound
from heedful.http.responses import json_response
from heedful.privacy import erasure, service
from heedful.runtime import Runtime
from heedful.storage.models import Company

MAX_LIMIT = 500


@admin_only
async def list_requests(request: Request, runtime: Runtime) -> Response:
    """`?company=` `?state=pending|failed|processed` `?phone=` `?email=` `?clientUserId=`
    `?limit=`."""
    query = request.query_params
    company_id = None
    if "company" in query:
        company_id = ids.COMPANY.decode(query["company"])
        if company_id is None:
            raise InvalidRequest("`company` must be a company id")
    state = query.get("state")
    if state is not None and state not in service.LISTING_STATES:
        raise InvalidRequest("`state` must be pending, failed or processed")
    limit = parse_digits(query.get("limit", "100"), 6)
    if limit is None or not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"`limit` must be a whole number from 1 to {MAX_LIMIT}")
    if company_id is not None:
        await runtime.read(_require_company, company_id)
    found = await runtime.run(
        service.list_requests,
        company_id,
        service.PrivacyPolicy.from_settings(runtime.settings),
        processed=None if state is None else service.LISTING_STATES[state][0],
        failed=None if state is None else service.LISTING_STATES[state][1],
        phone=query.get("phone"),
        email=query.get("email"),
        client_user_id=query.get("clientUserId"),
        limit=limit,
    )
    return json_response({"requests": found})


def _require_company(session: Session, company_id: int) -> None:
    # A company that does not exist is a 404, not "no requests" (a mistyped id looked empty).
    if session.get(Company, company_id) is None:
        raise NotFound(f"No company '{ids.COMPANY.encode(company_id)}'")


@admin_only
async def coverage(request: Request, runtime: Runtime) -> Response:
    """How privacy deletion covers each table (and which tables it does not)."""
    return json_response({"tables": erasure.coverage(), "uncovered": erasure.uncovered_tables()})


routes = [
    Route("/privacy/requests", list_requests, methods=["GET"]),
    Route("/privacy/coverage", coverage, methods=["GET"]),
]
