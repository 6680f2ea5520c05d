"""HTTP routes of the events area: validate, hand to the group-commit writer, answer `{}`."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from heedful.events import service
from heedful.events.schemas import (
    AddToCartRequest,
    CustomEventsRequest,
    ProductViewRequest,
    PurchaseRequest,
)
from heedful.http.operation import ApiRequest, operation
from heedful.http.responses import json_response


async def _ecommerce(request: ApiRequest, kind: str, model: type[ProductViewRequest]) -> Response:
    received_at = request.runtime.clock.now()
    body = await request.decode(model)
    event = service.ecommerce_event(request.auth.company_id, kind, body, received_at)
    await request.runtime.writer.submit(service.record_batch, event)
    return json_response({})


@operation("postProductViewEvents", auth_cache=True)
async def product_view(request: ApiRequest) -> Response:
    """A user viewed products."""
    return await _ecommerce(request, service.PRODUCT_VIEW, ProductViewRequest)


@operation("postAddToCartEvents", auth_cache=True)
async def add_to_cart(request: ApiRequest) -> Response:
    """A user added products to their cart."""
    return await _ecommerce(request, service.ADD_TO_CART, AddToCartRequest)


@operation("postPurchaseEvents", auth_cache=True)
async def purchase(request: ApiRequest) -> Response:
    """A user bought products."""
    return await _ecommerce(request, service.PURCHASE, PurchaseRequest)


@operation("postCustomEvents", auth_cache=True)
async def custom_event(request: ApiRequest) -> Response:
    """Any event a client defines; a repeated externalEventId is stored once."""
    received_at = request.runtime.clock.now()
    body = await request.decode(CustomEventsRequest)
    event = service.custom_event(request.auth.company_id, body, received_at)
    await request.runtime.writer.submit(service.record_batch, event)
    return json_response({})


routes = [
    Route("/events/ecommerce/product-view", product_view, methods=["POST"]),
    Route("/events/ecommerce/add-to-cart", add_to_cart, methods=["POST"]),
    Route("/events/ecommerce/purchase", purchase, methods=["POST"]),
    Route("/events/custom", custom_event, methods=["POST"]),
]
