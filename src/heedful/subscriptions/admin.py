"""Admin API of subscriptions: the simulated carrier (`POST /admin/sms/inbound`)."""

from __future__ import annotations

from typing import Any

from msgspec import UnsetType
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from heedful.admin.guard import admin_only
from heedful.core.clock import Clock
from heedful.errors import InvalidRequest, NotFound
from heedful.http.operation import decode_json, read_body
from heedful.http.responses import json_response
from heedful.identity import identifiers as ident
from heedful.oauth import service as oauth_service
from heedful.runtime import Runtime
from heedful.subscriptions import service
from heedful.subscriptions.schemas import InboundSmsRequest

MAX_INBOUND_TEXT = 1600


def receive_text(
    session: Session, clock: Clock, phone: str, text: str, company: str | None
) -> list[dict[str, Any]]:
    """A text from `phone`, to `company` (id or name) or else to every company that knows the
    phone; what each company did with it."""
    sender = ident.phone(phone, "from")
    if len(text) > MAX_INBOUND_TEXT:
        raise InvalidRequest(f"`text` must be at most {MAX_INBOUND_TEXT} characters")
    company_id = oauth_service.find_company(session, company).id if company else None
    outcomes = []
    for target in service.inbound_companies(session, sender, company_id):
        outcome = service.inbound_text(session, clock, target, sender, text)
        if outcome is not None:
            outcomes.append(outcome.view())
    if not outcomes:
        raise NotFound("No subscriber with that phone")
    return outcomes


@admin_only
async def sms_inbound(request: Request, runtime: Runtime) -> Response:
    """`{"from": "+1...", "text": "Y", "company"?: id or name}`: simulate a subscriber's reply."""
    body = decode_json(await read_body(request, runtime.settings), InboundSmsRequest)
    company = None if isinstance(body.company, UnsetType) else body.company
    outcomes = await runtime.run(receive_text, runtime.clock, body.from_, body.text, company)
    return json_response({"results": outcomes})


routes = [Route("/sms/inbound", sms_inbound, methods=["POST"])]
