"""Authlib, a standard OAuth 2.0 client library, installs an app against a real heedful."""

from __future__ import annotations

import httpx
import jwt
import pytest
from authlib.integrations.requests_client import OAuth2Session

from heedful.oauth.bootstrap import DevelopmentSetup
from heedful.runtime import Runtime
from tests.oauth.support import REDIRECT_URI, PublicApp, dict_list, forms_of


def approve_in_browser(authorization_url: str) -> str:
    """What the merchant does: open the consent page, press Approve; returns the callback URL."""
    with httpx.Client() as browser:
        page = browser.get(authorization_url)
        assert page.status_code == 200, page.text
        (form,) = forms_of(page.text)
        answer = browser.post(
            str(page.url.join(form.action)), data=dict_list([*form.fields, ("decision", "approve")])
        )
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
def test_authlib_performs_the_code_exchange(
    live_server: str,
    runtime: Runtime,
    dev: DevelopmentSetup,
    public_app: PublicApp,
    auth_method: str,
) -> None:
    with OAuth2Session(
        public_app.client_id,
        public_app.client_secret,
        scope="ecommerce:write events:write",
        redirect_uri=REDIRECT_URI,
        token_endpoint_auth_method=auth_method,
    ) as client:
        url, state = client.create_authorization_url(f"{live_server}/oauth/authorize")
        callback = approve_in_browser(url)

        token = client.fetch_token(
            f"{live_server}/v1/authorization-codes/tokens",
            authorization_response=callback,
            state=state,
        )
        me = client.get(f"{live_server}/v1/me")

    assert token["token_type"] == "Bearer"
    assert token["scope"] == "ecommerce:write events:write"
    assert me.status_code == 200
    assert me.json()["applicationName"] == public_app.name
    assert me.json()["companyName"] == "Dev Company"
    claims = jwt.decode(
        token["id_token"],
        public_app.client_secret,
        algorithms=["HS256"],
        audience=public_app.client_id,
        issuer=runtime.settings.public_base_url,
    )
    assert claims["sub"] == me.json()["companyId"]
