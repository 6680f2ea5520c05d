"""Wire models for events, named after the spec's DTOs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from heedful.identity.schemas import EventUser

Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class Price(msgspec.Struct):
    value: int | float
    currency: str = "USD"


class ProductRequest(msgspec.Struct):
    productId: str
    productVariantId: str
    price: Annotated[list[Price], msgspec.Meta(min_length=1)]
    productImage: str | UnsetType = UNSET
    productUrl: str | UnsetType = UNSET
    name: str | UnsetType = UNSET
    quantity: Int64 | UnsetType = UNSET


# Spec B's enum for `salesChannel.channelType` (the empty string included).
ChannelType = Literal["WEB", "IOS_APP", "ANDROID_APP", "IN_STORE", "PHONE", "OTHER", ""]


class SalesChannel(msgspec.Struct):
    """Spec B (purchase only); accepted and stored with the event."""

    channelType: ChannelType | UnsetType = UNSET


class ProductViewRequest(msgspec.Struct):
    items: list[ProductRequest]
    user: EventUser
    occurredAt: str | UnsetType = UNSET


class AddToCartRequest(ProductViewRequest):
    pass


class PurchaseRequest(ProductViewRequest):
    orderId: str | UnsetType = UNSET
    salesChannel: SalesChannel | UnsetType = UNSET


class CustomEventsRequest(msgspec.Struct):
    type: str
    user: EventUser
    properties: dict[str, Any] | UnsetType = UNSET
    externalEventId: str | UnsetType = UNSET
    occurredAt: str | UnsetType = UNSET
