"""Admin inspection of catalogs: `/admin/catalog/products` (list, cursor-paginated) and
`/admin/catalog/products/{productId}`; both take `?company=<company id>`."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from heedful.admin.guard import admin_only
from heedful.catalog import service
from heedful.core import ids
from heedful.core.numbers import parse_digits
from heedful.errors import InvalidRequest, NotFound
from heedful.http.responses import json_response
from heedful.runtime import Runtime
from heedful.storage.models import Company

MAX_LIMIT = 500


def _company(request: Request) -> int:
    raw = request.query_params.get("company")
    if not raw:
        raise InvalidRequest("Query parameter `company` (a company id) is required")
    company_id = ids.COMPANY.decode(raw)
    if company_id is None:
        raise InvalidRequest("Query parameter `company` must be a company id")
    return company_id


def _products_page(
    session: Session, company_id: int, after: int, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    # A company that does not exist is a 404, not an empty catalog (a mistyped id looked empty).
    if session.get(Company, company_id) is None:
        raise NotFound(f"No company '{ids.COMPANY.encode(company_id)}'")
    return service.products_page(session, company_id, after, limit)


def _limit(request: Request) -> int:
    limit = parse_digits(request.query_params.get("limit", "100"), 6)
    if limit is None or not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"Query parameter `limit` must be an integer from 1 to {MAX_LIMIT}")
    return limit


def _cursor(request: Request) -> int:
    raw = request.query_params.get("cursor")
    if not raw:
        return 0
    try:
        value = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        value = ""
    after = parse_digits(value[2:]) if value.startswith("p:") else None
    if after is None:
        raise InvalidRequest("Query parameter `cursor` is not a cursor this server returned")
    return after


def _encode_cursor(after: int) -> str:
    return base64.urlsafe_b64encode(f"p:{after}".encode()).decode().rstrip("=")


@admin_only
async def list_products(request: Request, runtime: Runtime) -> Response:
    """A company's ingested products with their variants, oldest first."""
    company_id, limit, after = _company(request), _limit(request), _cursor(request)
    products, last = await runtime.read(_products_page, company_id, after, limit)
    body: dict[str, Any] = {"products": products, "nextCursor": None}
    if last is not None:
        body["nextCursor"] = _encode_cursor(last)
    return json_response(body)


@admin_only
async def show_product(request: Request, runtime: Runtime) -> Response:
    """One ingested product, by its catalog id, with its variants."""
    company_id = _company(request)
    product_id = str(request.path_params["productId"])
    return json_response(await runtime.read(service.product_detail, company_id, product_id))


routes = [
    Route("/catalog/products", list_products, methods=["GET"]),
    Route("/catalog/products/{productId:path}", show_product, methods=["GET"]),
]
