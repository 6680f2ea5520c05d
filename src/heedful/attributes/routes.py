"""HTTP routes of the custom attributes area."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from heedful.attributes import service
from heedful.attributes.schemas import CustomAttributesRequest
from heedful.http.operation import ApiRequest, operation
from heedful.http.responses import json_response


@operation("postCustomAttributes", auth_cache=True)
async def custom_attributes(request: ApiRequest) -> Response:
    """Upsert attributes onto a user's profile."""
    body = await request.decode(CustomAttributesRequest)
    write = service.attribute_write(request.auth.company_id, body)
    await request.runtime.writer.submit(service.set_batch, write)
    return json_response({})


routes = [Route("/attributes/custom", custom_attributes, methods=["POST"])]
