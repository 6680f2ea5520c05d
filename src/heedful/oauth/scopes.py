"""Scope strings and which of them each operation needs."""

from __future__ import annotations

from collections.abc import Iterable

from heedful.errors import InvalidRequest

# Every scope string the vendor's documentation mentions (reference §4.3).
KNOWN_SCOPES: tuple[str, ...] = (
    "subscriptions:write",
    "subscriptions:read",
    "events:write",
    "ecommerce:write",
    "attributes:write",
    "webhooks:write",
    "product_catalogs:write",
    "product_catalogs:read",
    "privacy_requests:write",
    "privacy_requests:read",
    "identity:write",
    "offers:write",
    "segments:read",
    "segments:write",
    "attributes:all",
    "subscriptions:all",
    "segments:all",
)

# operationId -> scopes of which the token needs any one. Empty: any valid token.
# GET /subscriptions also accepts `subscriptions:read`, the scope newer vendor docs name.
OPERATION_SCOPES: dict[str, tuple[str, ...]] = {
    "getMe": (),
    "getWebhooks": ("webhooks:write",),
    "createWebhook": ("webhooks:write",),
    "updateWebhook": ("webhooks:write",),
    "deleteWebhook": ("webhooks:write",),
    "postProductViewEvents": ("ecommerce:write",),
    "postAddToCartEvents": ("ecommerce:write",),
    "postPurchaseEvents": ("ecommerce:write",),
    "postCustomEvents": ("events:write",),
    "postCustomAttributes": ("attributes:write",),
    "addSubscriptions": ("subscriptions:write",),
    "getSubscriptions": ("subscriptions:write", "subscriptions:read"),
    "unsubscribeSubscriptions": ("subscriptions:write",),
    "postUpload": ("product_catalogs:write",),
    "getUploads": ("product_catalogs:read",),
    "lookupUpload": ("product_catalogs:read",),
    "addDeleteRequest": ("privacy_requests:write",),
    "getDeleteRequest": ("privacy_requests:read",),
    "identify": ("identity:write",),
}


def parse_scopes(values: Iterable[str]) -> list[str]:
    """Normalise scopes given as repeated values, or space/`+`/comma separated; `all` = every."""
    parsed: list[str] = []
    for value in values:
        for scope in value.replace("+", " ").replace(",", " ").split():
            if scope == "all":
                parsed.extend(KNOWN_SCOPES)
            elif scope in KNOWN_SCOPES:
                parsed.append(scope)
            else:
                raise InvalidRequest(
                    f"Unknown scope '{scope}'; known scopes: all, {', '.join(KNOWN_SCOPES)}"
                )
    return list(dict.fromkeys(parsed))


def missing_scope(operation_id: str, granted: Iterable[str]) -> str | None:
    """The scope to name in a 403, or None when the token may call the operation."""
    needed = OPERATION_SCOPES.get(operation_id, ())
    if not needed or set(needed) & set(granted):
        return None
    return needed[0]


# What each scope lets an app do, in words, for the consent page.
SCOPE_DESCRIPTIONS: dict[str, str] = {
    "subscriptions:write": "Subscribe and unsubscribe customers, and check their subscriptions",
    "subscriptions:read": "See your customers' subscriptions",
    "events:write": "Send custom events about your customers",
    "ecommerce:write": "Send product views, add-to-cart and purchase events",
    "attributes:write": "Set custom attributes on your customers' profiles",
    "webhooks:write": "Create, change and delete webhooks that receive your events",
    "product_catalogs:write": "Upload your product catalog",
    "product_catalogs:read": "See your product catalog uploads",
    "privacy_requests:write": "File privacy (delete) requests for your customers",
    "privacy_requests:read": "See the status of privacy requests",
    "identity:write": "Link your customers' identifiers (identity resolution)",
    "offers:write": "Upload coupon codes",
    "segments:read": "See your segments",
    "segments:write": "Change your segments",
    "attributes:all": "Read and write custom attributes in bulk",
    "subscriptions:all": "Read and write subscriptions in bulk",
    "segments:all": "Read and write segments in bulk",
}


def parse_requested_scopes(value: str) -> list[str]:
    """An OAuth `scope` parameter: scopes separated by spaces or `+`; each must be known."""
    requested = list(dict.fromkeys(value.replace("+", " ").split()))
    for scope in requested:
        if scope not in KNOWN_SCOPES:
            raise InvalidRequest(f"Unknown scope '{scope}' in `scope`")
    return requested
