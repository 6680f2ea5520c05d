"""Wire models of the subscription operations, named after the spec's DTOs (Spec A), with the
optional Spec B additions (`locale`, `subscriptionType`, `singleOptIn`, `notification.disabled`).
"""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import UNSET, UnsetType

SubscriptionType = Literal["MARKETING", "TRANSACTIONAL", "CHECKOUT_ABANDONED"]
Channel = Literal["TEXT", "EMAIL"]


class UserDto1(msgspec.Struct, omit_defaults=True):
    phone: str | UnsetType = UNSET
    email: str | UnsetType = UNSET


class CustomIdentifierDto(msgspec.Struct, omit_defaults=True):
    name: str | UnsetType = UNSET
    value: str | UnsetType = UNSET


class NewExternalIdentifierDto(msgspec.Struct, omit_defaults=True):
    clientUserId: str | UnsetType = UNSET
    shopifyId: str | UnsetType = UNSET
    klaviyoId: str | UnsetType = UNSET
    customIdentifiers: list[CustomIdentifierDto] | UnsetType = UNSET


class LocaleDto(msgspec.Struct):
    """Spec B: `{"language": "en", "country": "US"}`, matched case-sensitively."""

    language: str
    country: str


class AddSubscriptionsRequestDto(msgspec.Struct):
    user: UserDto1
    signUpSourceId: str | UnsetType = UNSET
    externalIdentifiers: NewExternalIdentifierDto | UnsetType = UNSET
    locale: LocaleDto | UnsetType = UNSET
    subscriptionType: Literal["MARKETING", "TRANSACTIONAL"] | UnsetType = UNSET
    singleOptIn: bool | UnsetType = UNSET


class SubscriptionDto(msgspec.Struct, omit_defaults=True):
    type: SubscriptionType | UnsetType = UNSET
    channel: Channel | UnsetType = UNSET


class AddSubscriptionResponseDto(msgspec.Struct):
    subscription: SubscriptionDto
    subscriptionCreationStatus: Literal["NEWLY_CREATED", "PREVIOUSLY_CREATED"]


class AddSubscriptionsResponseDto(msgspec.Struct, omit_defaults=True):
    user: UserDto1
    subscriptionResponses: list[AddSubscriptionResponseDto]
    externalIdentifiers: NewExternalIdentifierDto | UnsetType = UNSET


class EligibilityDto(msgspec.Struct):
    isEligible: bool


class SubscriptionEligibilityDto(msgspec.Struct):
    subscription: SubscriptionDto
    eligibility: EligibilityDto


class GetSubscriptionsResponseDto(msgspec.Struct):
    subscriptionEligibilities: list[SubscriptionEligibilityDto]


class NotificationConfigDto(msgspec.Struct):
    language: str | UnsetType = UNSET
    disabled: bool | UnsetType = UNSET


class UnsubscribeSubscriptionsRequestDto(msgspec.Struct):
    user: UserDto1
    subscriptions: list[SubscriptionDto] | UnsetType = UNSET
    notification: NotificationConfigDto | UnsetType = UNSET


class UnsubscribeSubscriptionResponseDto(msgspec.Struct):
    subscription: SubscriptionDto
    subscriptionUnsubscribeStatus: Literal["NEWLY_UNSUBSCRIBED", "PREVIOUSLY_UNSUBSCRIBED"]


class UnsubscribeSubscriptionsResponseDto(msgspec.Struct):
    user: UserDto1
    subscriptionResponses: list[UnsubscribeSubscriptionResponseDto]


class InboundSmsRequest(msgspec.Struct, rename={"from_": "from"}):
    """The admin API's simulated inbound text."""

    from_: str
    text: str
    company: str | UnsetType = UNSET
