"""HTTP routes of the events area: validate, hand to the group-commit writer, answer `{}`.

Ingestion operations (see heedful.http.ingestion): each function turns a decoded body into the
write to commit; the endpoint answers once the write's batch has committed.
"""

from __future__ import annotations

from datetime import datetime

from starlette.routing import Route

from heedful.events import service
from heedful.events.schemas import (
    AddToCartRequest,
    CustomEventsRequest,
    ProductViewRequest,
    PurchaseRequest,
)
from heedful.http.ingestion import PendingWrite, ingestion


def _ecommerce(
    kind: str, company_id: int, body: ProductViewRequest, received_at: datetime
) -> PendingWrite:
    event = service.ecommerce_event(company_id, kind, body, received_at)
    return PendingWrite(service.record_batch, event)


@ingestion("postProductViewEvents", ProductViewRequest)
def product_view(company_id: int, body: ProductViewRequest, received_at: datetime) -> PendingWrite:
    """A user viewed products."""
    return _ecommerce(service.PRODUCT_VIEW, company_id, body, received_at)


@ingestion("postAddToCartEvents", AddToCartRequest)
def add_to_cart(company_id: int, body: AddToCartRequest, received_at: datetime) -> PendingWrite:
    """A user added products to their cart."""
    return _ecommerce(service.ADD_TO_CART, company_id, body, received_at)


@ingestion("postPurchaseEvents", PurchaseRequest)
def purchase(company_id: int, body: PurchaseRequest, received_at: datetime) -> PendingWrite:
    """A user bought products."""
    return _ecommerce(service.PURCHASE, company_id, body, received_at)


@ingestion("postCustomEvents", CustomEventsRequest)
def custom_event(company_id: int, body: CustomEventsRequest, received_at: datetime) -> PendingWrite:
    """Any event a client defines; a repeated externalEventId is stored once."""
    return PendingWrite(service.record_batch, service.custom_event(company_id, body, received_at))


routes = [
    Route("/events/ecommerce/product-view", product_view, methods=["POST"]),
    Route("/events/ecommerce/add-to-cart", add_to_cart, methods=["POST"]),
    Route("/events/ecommerce/purchase", purchase, methods=["POST"]),
    Route("/events/custom", custom_event, methods=["POST"]),
]
