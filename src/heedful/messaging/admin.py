"""Admin API of messaging: the outbox (and inbound texts), `GET /admin/messages`."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from heedful.admin.guard import admin_only
from heedful.core.numbers import parse_digits
from heedful.errors import InvalidRequest
from heedful.http.responses import json_response
from heedful.identity import identifiers as ident
from heedful.messaging import service
from heedful.oauth import service as oauth_service
from heedful.runtime import Runtime

MAX_LIMIT = 500
DEFAULT_LIMIT = 100


def find_messages(
    session: Session,
    phone: str | None,
    email: str | None,
    company: str | None,
    limit: int = DEFAULT_LIMIT,
) -> list[dict[str, Any]]:
    """Messages to or from a phone/email (any of them when neither is given), newest first."""
    phone_value = ident.phone(phone, "phone").value if phone is not None else None
    email_value = ident.email(email, "email").value if email is not None else None
    company_id = oauth_service.find_company(session, company).id if company else None
    return service.list_messages(
        session, phone=phone_value, email=email_value, company_id=company_id, limit=limit
    )


def parse_limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    limit = parse_digits(raw, 6)
    if limit is None or not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"`limit` must be a whole number from 1 to {MAX_LIMIT}")
    return limit


@admin_only
async def list_messages(request: Request, runtime: Runtime) -> Response:
    """`?phone=` | `?email=` (and optional `company`, `limit`): the messages, newest first."""
    query = request.query_params
    limit = parse_limit(query.get("limit"))
    found = await runtime.run(
        find_messages, query.get("phone"), query.get("email"), query.get("company"), limit
    )
    return json_response({"messages": found})


routes = [Route("/messages", list_messages, methods=["GET"])]
