"""Admin HTTP API. Later areas add inspection and simulation endpoints here."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from heedful.admin.guard import admin_only
from heedful.admin.jobs import routes as jobs_admin_routes
from heedful.admin.schemas import CreateCompanyRequest
from heedful.catalog.admin import routes as catalog_admin_routes
from heedful.core import ids
from heedful.http.operation import decode_json, read_body
from heedful.http.responses import json_response
from heedful.http.routing import COLLECTION_METHODS, SharedPathRoute
from heedful.identity.admin import routes as identity_admin_routes
from heedful.messaging.admin import routes as messaging_admin_routes
from heedful.oauth import service as oauth_service
from heedful.privacy.admin import routes as privacy_admin_routes
from heedful.runtime import Runtime
from heedful.storage.models import Company
from heedful.subscriptions.admin import routes as subscriptions_admin_routes
from heedful.webhooks.admin import routes as webhooks_admin_routes


def _company_view(company: Company) -> dict[str, Any]:
    return {
        "id": ids.COMPANY.encode(company.id),
        "name": company.name,
        "attentiveDomainName": company.domain,
        "contactEmail": company.contact_email,
        "development": company.is_development,
        "createdAt": company.created_at.isoformat(),
    }


def _list(session: Session) -> list[dict[str, Any]]:
    return [_company_view(company) for company in oauth_service.list_companies(session)]


@admin_only
async def list_companies(request: Request, runtime: Runtime) -> Response:
    """Every company (tenant) on this server."""
    return json_response({"companies": await runtime.read(_list)})


@admin_only
async def create_company(request: Request, runtime: Runtime) -> Response:
    """Create a company; the admin key is in the response once."""
    body = await read_body(request, runtime.settings)
    wanted = decode_json(body, CreateCompanyRequest)

    def create(session: Session) -> dict[str, Any]:
        made = oauth_service.create_company(
            session,
            runtime.clock,
            wanted.name,
            domain=wanted.domain,
            contact_email=wanted.contactEmail,
        )
        return {"company": _company_view(made.company), "adminKey": made.admin_key}

    return json_response(await runtime.run(create), 201)


routes = [
    SharedPathRoute("/companies", list_companies, method="GET", allow=COLLECTION_METHODS),
    SharedPathRoute("/companies", create_company, method="POST", allow=COLLECTION_METHODS),
    *webhooks_admin_routes,
    *catalog_admin_routes,
    *identity_admin_routes,
    *privacy_admin_routes,
    *subscriptions_admin_routes,
    *messaging_admin_routes,
    *jobs_admin_routes,
]
