"""HTTP routes of the subscriptions area."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from heedful.http.operation import ApiRequest, operation
from heedful.http.responses import json_response
from heedful.http.routing import COLLECTION_METHODS, SharedPathRoute
from heedful.subscriptions import service
from heedful.subscriptions.schemas import (
    AddSubscriptionsRequestDto,
    UnsubscribeSubscriptionsRequestDto,
)


@operation("addSubscriptions")
async def add_subscriptions(request: ApiRequest) -> Response:
    """Opt a user in, per channel the identifiers name; the type comes from the sign-up source."""
    body = await request.decode(AddSubscriptionsRequestDto)
    result = await request.call(
        service.subscribe, request.runtime.clock, request.auth.company_id, body
    )
    return json_response(result, 202)


@operation("getSubscriptions")
async def get_subscriptions(request: ApiRequest) -> Response:
    """Every subscription of the user the phone (TEXT) and/or email (EMAIL) locate."""
    query = request.request.query_params
    result = await request.read(
        service.eligibility, request.auth.company_id, query.get("phone"), query.get("email")
    )
    return json_response(result)


@operation("unsubscribeSubscriptions")
async def unsubscribe_subscriptions(request: ApiRequest) -> Response:
    """Opt a user out of all, or the given, subscriptions of the channels the identifiers name."""
    body = await request.decode(UnsubscribeSubscriptionsRequestDto)
    result = await request.call(
        service.unsubscribe, request.runtime.clock, request.auth.company_id, body
    )
    return json_response(result, 202)


# Two operations share /subscriptions: a 405 there lists both methods in `Allow`.
routes = [
    SharedPathRoute("/subscriptions", add_subscriptions, method="POST", allow=COLLECTION_METHODS),
    SharedPathRoute("/subscriptions", get_subscriptions, method="GET", allow=COLLECTION_METHODS),
    Route("/subscriptions/unsubscribe", unsubscribe_subscriptions, methods=["POST"]),
]
