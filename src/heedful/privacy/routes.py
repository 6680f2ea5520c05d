"""HTTP routes of the privacy area.

The one place a 400 is not the generic error: the vendor answers `{"error": "<text>"}` here
(`PrivacyRequestErrorDto`), so every 400 of `addDeleteRequest` (an unreadable body included)
has that shape (`on_invalid`). Other statuses keep the generic `{"error": {"id", "message"}}`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from heedful.errors import InvalidRequest
from heedful.http.operation import ApiRequest, operation
from heedful.http.responses import json_response
from heedful.privacy import service
from heedful.privacy.schemas import PrivacyRequestAddDeleteEventDto


def _invalid(request: Request, exc: InvalidRequest) -> Response:
    # Only the message goes to the log line; it never quotes the identifiers.
    request.state.error_message = exc.message
    return json_response({"error": exc.message}, 400)


@operation("addDeleteRequest", on_invalid=_invalid)
async def add_delete_request(request: ApiRequest) -> Response:
    """Record a CCPA delete request; it is processed by a job when due."""
    body = await request.decode(PrivacyRequestAddDeleteEventDto)
    policy = service.PrivacyPolicy.from_settings(request.runtime.settings)
    made = await request.call(
        service.add_delete_request,
        request.runtime.clock,
        request.auth.company_id,
        body,
        policy,
    )
    return json_response(made)


@operation("getDeleteRequest")
async def get_delete_request(request: ApiRequest) -> Response:
    """A delete request with masked identifiers and processing times."""
    found = await request.read(
        service.get_delete_request, request.auth.company_id, str(request.path_params["id"])
    )
    return json_response(found)


routes = [
    Route("/privacy/delete-request", add_delete_request, methods=["POST"]),
    Route("/privacy/delete-request/{id}", get_delete_request, methods=["GET"]),
]
