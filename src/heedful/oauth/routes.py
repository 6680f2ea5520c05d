"""HTTP routes of the oauth area."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from heedful.http.operation import ApiRequest, operation
from heedful.http.responses import json_response
from heedful.oauth import service
from heedful.oauth.schemas import GetMeResponseDto


@operation("getMe")
async def get_me(request: ApiRequest) -> Response:
    """The application and company the bearer token belongs to."""
    me = await request.call(service.describe_me, request.auth)
    return json_response(
        GetMeResponseDto(
            applicationName=me.application_name,
            attentiveDomainName=me.attentive_domain_name,
            companyName=me.company_name,
            contactEmail=me.contact_email,
            companyId=me.company_id,
        )
    )


routes = [Route("/me", get_me, methods=["GET"])]
