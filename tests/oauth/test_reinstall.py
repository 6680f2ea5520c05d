"""Installing an app again with other scopes: what the merchant grants last is what holds."""

from __future__ import annotations

import httpx

from heedful.oauth.bootstrap import DevelopmentSetup
from tests.oauth.support import Browser, PublicApp, bearer, callback_params, exchange, install

BOTH = "webhooks:write ecommerce:write"
PRODUCT_VIEW = {
    "items": [{"productId": "p1", "productVariantId": "v1", "price": [{"value": 5}]}],
    "user": {"phone": "+13115552368"},
}


async def token_for(client: httpx.AsyncClient, app: PublicApp, code: str) -> dict[str, str]:
    answer = await exchange(client, app, code)
    assert answer.status_code == 200, answer.text
    body: dict[str, str] = answer.json()
    return body


async def can_list_webhooks(client: httpx.AsyncClient, token: str) -> int:
    return (await client.get("/v1/webhooks", headers=bearer(token))).status_code


async def test_a_narrower_reinstall_narrows_the_tokens_issued_before(
    browser: Browser, client: httpx.AsyncClient, dev: DevelopmentSetup, public_app: PublicApp
) -> None:
    old = await token_for(client, public_app, await install(browser, public_app, scope=BOTH))
    assert await can_list_webhooks(client, old["access_token"]) == 200

    await browser.open(public_app.authorize_url(scope=BOTH))
    narrower = await browser.submit(("decision", "approve"), uncheck=("webhooks:write",))
    new = await token_for(client, public_app, callback_params(narrower)["code"])

    assert new["scope"] == "ecommerce:write"
    assert await can_list_webhooks(client, new["access_token"]) == 403
    assert await can_list_webhooks(client, old["access_token"]) == 403
    viewed = await client.post(
        "/v1/events/ecommerce/product-view", json=PRODUCT_VIEW, headers=bearer(old["access_token"])
    )
    assert viewed.status_code == 200, viewed.text  # what is still granted keeps working


async def test_a_code_from_before_a_narrower_reinstall_issues_only_what_is_still_granted(
    browser: Browser, client: httpx.AsyncClient, dev: DevelopmentSetup, public_app: PublicApp
) -> None:
    earlier_code = await install(browser, public_app, scope=BOTH)
    await install(browser, public_app, scope="ecommerce:write")

    token = await token_for(client, public_app, earlier_code)

    assert token["scope"] == "ecommerce:write"
    assert await can_list_webhooks(client, token["access_token"]) == 403


async def test_a_reinstall_granting_none_of_a_tokens_scopes_revokes_it(
    browser: Browser, client: httpx.AsyncClient, dev: DevelopmentSetup, public_app: PublicApp
) -> None:
    old = await token_for(
        client, public_app, await install(browser, public_app, scope="webhooks:write")
    )
    pending = await install(browser, public_app, scope="webhooks:write")

    await install(browser, public_app, scope="ecommerce:write")

    assert (await client.get("/v1/me", headers=bearer(old["access_token"]))).status_code == 401
    refused = await exchange(client, public_app, pending)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


async def test_a_wider_reinstall_does_not_widen_the_tokens_issued_before(
    browser: Browser, client: httpx.AsyncClient, dev: DevelopmentSetup, public_app: PublicApp
) -> None:
    old = await token_for(
        client, public_app, await install(browser, public_app, scope="ecommerce:write")
    )

    new = await token_for(client, public_app, await install(browser, public_app, scope=BOTH))

    assert new["scope"] == BOTH
    assert await can_list_webhooks(client, new["access_token"]) == 200
    assert await can_list_webhooks(client, old["access_token"]) == 403
