"""HTTP routes of the oauth area under /v1 (the consent pages are in `pages`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from heedful.http.operation import (
    MORE_THAN_ONE_AUTHORIZATION,
    ApiRequest,
    PublicRequest,
    operation,
    public_operation,
)
from heedful.http.responses import json_response
from heedful.oauth import forms, service
from heedful.oauth.schemas import CreateTokenResponseDto, GetMeResponseDto, TokenErrorDto

# RFC 6749 §5.1: token responses must not be cached.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@operation("getMe")
async def get_me(request: ApiRequest) -> Response:
    """The application and company the bearer token belongs to."""
    me = await request.read(service.describe_me, request.auth)
    return json_response(
        GetMeResponseDto(
            applicationName=me.application_name,
            attentiveDomainName=me.attentive_domain_name,
            companyName=me.company_name,
            contactEmail=me.contact_email,
            companyId=me.company_id,
        )
    )


def _client_id(request: Request, body: bytes) -> str | None:
    return forms.client_id_of(body, request.headers.get("authorization"))


@public_operation("createTokenViaAuthorizationCode", caller=_client_id)
async def create_token(request: PublicRequest) -> Response:
    """Exchange an authorization code for an access token (no bearer token: the client
    authenticates with its id and secret, in the form or with HTTP Basic)."""
    headers = request.request.headers
    if len(headers.getlist("authorization")) > 1:
        return _refused(service.TokenRefused("invalid_request", MORE_THAN_ONE_AUTHORIZATION))
    parsed = forms.token_request(
        await request.body(), headers.get("content-type"), headers.get("authorization")
    )
    if isinstance(parsed, service.TokenRefused):
        return _refused(parsed)
    settings = request.runtime.settings
    result = await request.call(
        service.exchange_code,
        request.runtime.clock,
        parsed,
        issuer=settings.public_base_url,
        token_ttl=settings.oauth_token_ttl,
    )
    if isinstance(result, service.TokenRefused):
        return _refused(result)
    body = CreateTokenResponseDto(
        access_token=result.access_token,
        id_token=result.id_token,
        token_type="Bearer",
        scope=" ".join(result.scopes),
        expires_in=result.expires_in,
    )
    return json_response(body, headers=NO_STORE)


def _refused(refusal: service.TokenRefused) -> Response:
    headers = dict(NO_STORE)
    if refusal.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="heedful"'
    body = TokenErrorDto(error=refusal.error, error_description=refusal.description)
    return json_response(body, refusal.status, headers)


routes = [
    Route("/me", get_me, methods=["GET"]),
    Route("/authorization-codes/tokens", create_token, methods=["POST"]),
]
