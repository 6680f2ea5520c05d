"""Admin HTTP API. Later areas add inspection and simulation endpoints here."""

from __future__ import annotations

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from heedful.admin.guard import admin_only
from heedful.core import ids
from heedful.http.responses import json_response
from heedful.oauth import service as oauth_service
from heedful.runtime import Runtime


def _company_rows(session: Session) -> list[dict[str, object]]:
    return [
        {
            "id": ids.COMPANY.encode(company.id),
            "name": company.name,
            "attentiveDomainName": company.domain,
            "contactEmail": company.contact_email,
            "development": company.is_development,
            "createdAt": company.created_at.isoformat(),
        }
        for company in oauth_service.list_companies(session)
    ]


@admin_only
async def list_companies(request: Request, runtime: Runtime) -> Response:
    return json_response({"companies": await runtime.run(_company_rows)})


routes = [Route("/companies", list_companies, methods=["GET"])]
