"""HTTP routes of the identity area."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from heedful.http.operation import ApiRequest, decode_json, operation
from heedful.http.responses import json_response
from heedful.identity import identifiers, service
from heedful.identity.schemas import IdentifyRequestDto


@operation("identify")
async def identify(request: ApiRequest) -> Response:
    """Link a client user id or custom identifiers to a user's other identifiers."""
    body = await request.body()
    wanted = identifiers.from_identify(_decode(body))
    await request.call(service.identify, request.runtime.clock, request.auth.company_id, wanted)
    return json_response({}, 202)


def _decode(body: bytes) -> IdentifyRequestDto:
    if not body.strip():
        # The body is optional in the spec; without one, it names no identifier.
        return IdentifyRequestDto()
    return decode_json(body, IdentifyRequestDto)


routes = [Route("/identity-resolution/user-identifiers", identify, methods=["POST"])]
