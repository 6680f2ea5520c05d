"""The consent pages, driven like a browser: open, read the form, post it, follow redirects."""

from __future__ import annotations

import base64

import httpx
import pytest
from sqlalchemy import func, select

from heedful.app import create_app
from heedful.oauth.bootstrap import DevelopmentSetup
from heedful.runtime import Runtime
from heedful.storage.models.oauth import AuthorizationCode, Installation
from tests.oauth.conftest import Installer
from tests.oauth.support import (
    REDIRECT_URI,
    Browser,
    PublicApp,
    bearer,
    callback_params,
    exchange,
    install,
    make_public_app,
)


def count(runtime: Runtime, model: type) -> int:
    with runtime.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


async def test_install_in_development_then_call_the_api(
    browser: Browser, client: httpx.AsyncClient, dev: DevelopmentSetup, public_app: PublicApp
) -> None:
    page = await browser.open(public_app.authorize_url(scope="ecommerce:write+events:write"))

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert f"Install {public_app.name}?" in page.text
    assert "Dev Company" in page.text and "devcompany.attn.tv" in page.text
    assert "Send product views, add-to-cart and purchase events" in page.text  # scopes in words
    assert "Send custom events about your customers" in page.text
    assert browser.form().buttons == [("decision", "deny"), ("decision", "approve")]

    redirect = await browser.submit(("decision", "approve"))
    callback = callback_params(redirect)
    assert callback["state"] == "xyz-state" and len(callback["code"]) >= 32

    token = await exchange(client, public_app, callback["code"])
    assert token.status_code == 200, token.text
    me = await client.get("/v1/me", headers=bearer(token.json()["access_token"]))

    assert me.status_code == 200
    assert me.json()["applicationName"] == public_app.name
    assert me.json()["companyName"] == "Dev Company"
    assert base64.b64decode(me.json()["companyId"] + "==") == f"07:Company{dev.company.id}".encode()


@pytest.mark.parametrize(("base_url", "secure"), [("https://api.shop.example", True), ("", False)])
async def test_the_sign_in_cookie_is_secure_behind_a_tls_proxy(
    production_runtime: Runtime,
    public_app: PublicApp,
    base_url: str,
    secure: bool,
) -> None:
    # TLS ends at the proxy: heedful sees http, but browsers reach it at an https base URL,
    # and must never send the session cookie in clear.
    settings = production_runtime.settings.model_copy(update={"base_url": base_url})
    runtime = Runtime(settings, production_runtime.db, production_runtime.clock)
    transport = httpx.ASGITransport(app=create_app(settings, runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        login = await Browser(http).open(public_app.authorize_url())

    assert login.status_code == 200
    assert ("; secure" in login.headers["set-cookie"].lower()) is secure


async def test_install_in_production_signs_in_with_the_admin_key(
    production_browser: Browser, public_app: PublicApp, installer: Installer, runtime: Runtime
) -> None:
    browser = production_browser
    login = await browser.open(public_app.authorize_url())
    assert login.status_code == 200
    assert "Company admin key" in login.text and "Hudson" not in login.text

    wrong = await browser.submit(fill={"admin_key": "hdfadm_not-a-key"})
    assert wrong.status_code == 401
    assert "does not belong to any company" in wrong.text

    signed_in = await browser.submit(fill={"admin_key": installer.admin_key})
    assert signed_in.status_code == 303
    cookie = signed_in.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/oauth" in cookie
    consent = await browser.follow()
    assert consent.status_code == 200
    assert "Hudson &amp; Ivy" in consent.text and "hi.attn.tv" in consent.text

    code = callback_params(await browser.submit(("decision", "approve")))["code"]
    token = (await exchange(browser.http, public_app, code)).json()["access_token"]
    me = (await browser.http.get("/v1/me", headers=bearer(token))).json()

    assert me["companyName"] == "Hudson & Ivy"
    assert me["applicationName"] == public_app.name
    with runtime.db.transaction() as session:
        installation = session.scalars(select(Installation)).one()
        assert installation.company_id == installer.company_id
        assert installation.scopes == ["ecommerce:write", "events:write"]


async def test_a_forged_session_cookie_is_not_signed_in(
    production_browser: Browser, public_app: PublicApp, installer: Installer
) -> None:
    browser = production_browser
    await browser.open(public_app.authorize_url())
    await browser.submit(fill={"admin_key": installer.admin_key})
    cookie = browser.http.cookies["heedful_consent"]
    payload, signature = cookie.split(".")
    browser.http.cookies.clear()
    # Another first character always changes the signature (a changed last one may decode
    # to the same bytes, and "AA" in place of the last two was no change when they were "AA").
    forged = ("B" if signature[0] == "A" else "A") + signature[1:]
    browser.http.cookies.set("heedful_consent", f"{payload}.{forged}", path="/oauth")

    page = await browser.open(public_app.authorize_url())

    assert "Company admin key" in page.text and "Hudson" not in page.text


async def test_deny_redirects_with_access_denied_and_installs_nothing(
    browser: Browser, runtime: Runtime, dev: DevelopmentSetup, public_app: PublicApp
) -> None:
    await browser.open(public_app.authorize_url(state="s 1&2"))

    callback = callback_params(await browser.submit(("decision", "deny")))

    assert callback == {"error": "access_denied", "state": "s 1&2"}
    assert count(runtime, Installation) == 0 and count(runtime, AuthorizationCode) == 0


async def test_the_redirect_keeps_the_uris_own_query_and_omits_a_missing_state(
    browser: Browser, runtime: Runtime, dev: DevelopmentSetup
) -> None:
    app = make_public_app(runtime, redirect_uris=["https://app.example/callback?shop=1"])
    await browser.open(
        app.authorize_url(state=None, redirect_uri="https://app.example/callback?shop=1")
    )

    redirect = await browser.submit(("decision", "approve"))

    assert redirect.headers["location"].startswith("https://app.example/callback?shop=1&code=")
    assert "state=" not in redirect.headers["location"]


@pytest.mark.parametrize(
    "registered",
    [
        "https://app.example/callback?flag",  # a bare name stays bare (was `flag=`)
        "https://app.example/callback?q=%E9",  # a non-UTF-8 escape (was U+FFFD, `%EF%BF%BD`)
        "https://app.example/callback?a=1;b=2",  # `;` kept as it is (was `a=1%3Bb%3D2`)
        "https://app.example/callback?next=/a/b&x=a%20b",
    ],
)
async def test_the_redirect_keeps_the_uris_own_query_byte_for_byte(
    browser: Browser, runtime: Runtime, dev: DevelopmentSetup, registered: str
) -> None:
    # RFC 6749 §3.1.2: the registered URI's query MUST be retained; only `&code=...` is added.
    app = make_public_app(runtime, redirect_uris=[registered])
    await browser.open(app.authorize_url(state="s 1", redirect_uri=registered))
    denied = await browser.submit(("decision", "deny"))
    assert denied.headers["location"] == f"{registered}&error=access_denied&state=s+1"

    await browser.open(app.authorize_url(state="s 1", redirect_uri=registered))
    approved = (await browser.submit(("decision", "approve"))).headers["location"]

    assert approved.startswith(f"{registered}&code=") and approved.endswith("&state=s+1")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("client_id=nope&redirect_uri=https://app.example/callback&scope=events:write",
         "Unknown client_id"),
        ("redirect_uri=https://app.example/callback&scope=events:write", "no `client_id`"),
        ("client_id={id}&redirect_uri=https://evil.example/cb&scope=events:write",
         "is not registered"),
        ("client_id={id}&scope=events:write", "no `redirect_uri`"),
        ("client_id={id}&redirect_uri=https://app.example/callback&scope=events:write+nope:read",
         "Unknown scope &#39;nope:read&#39;"),
        ("client_id={id}&redirect_uri=https://app.example/callback&scope=identity:write",
         "not registered for scope &#39;identity:write&#39;"),
        ("client_id={id}&redirect_uri=https://app.example/callback", "no `scope`"),
        ("client_id={id}&client_id={id}&redirect_uri=https://app.example/callback&scope=events:write",
         "`client_id` is given more than once"),
        ("client_id={id}&redirect_uri=https://app.example/callback&scope=events:write"
         "&response_type=token", "only &#39;code&#39;"),
        # PostgreSQL cannot compare text with a NUL in it: the client_id lookup was a 500.
        ("client_id=a%00b&redirect_uri=https://app.example/callback&scope=events:write",
         "`client_id` must not contain NUL characters"),
    ],
)  # fmt: skip
async def test_bad_requests_get_an_error_page_never_a_redirect(
    browser: Browser, dev: DevelopmentSetup, public_app: PublicApp, query: str, message: str
) -> None:
    page = await browser.open("/oauth/authorize?" + query.format(id=public_app.client_id))

    assert page.status_code == 400
    assert "location" not in page.headers
    assert page.headers["content-type"].startswith("text/html")
    assert message in page.text
    assert "<form" not in page.text


async def test_approving_without_the_csrf_token_is_refused(
    browser: Browser, client: httpx.AsyncClient, runtime: Runtime, dev: DevelopmentSetup,
    public_app: PublicApp,
) -> None:  # fmt: skip
    await browser.open(public_app.authorize_url())

    forged = await browser.submit(("decision", "approve"), fill={"csrf_token": "guess"})
    assert forged.status_code == 403 and "location" not in forged.headers

    client.cookies.clear()  # another site's form post: no session cookie at all
    await browser.open(public_app.authorize_url())
    form = browser.form()
    client.cookies.clear()
    cross_site = await client.post(form.action, data=dict(form.fields) | {"decision": "approve"})
    assert cross_site.status_code == 403

    assert count(runtime, Installation) == 0


async def test_posted_fields_are_validated_again(
    browser: Browser, runtime: Runtime, dev: DevelopmentSetup, public_app: PublicApp
) -> None:
    await browser.open(public_app.authorize_url())

    tampered = await browser.submit(
        ("decision", "approve"), fill={"redirect_uri": "https://evil.example/cb"}
    )

    assert tampered.status_code == 400 and "location" not in tampered.headers
    assert count(runtime, Installation) == 0


async def test_granting_nothing_shows_the_page_again(
    browser: Browser, runtime: Runtime, dev: DevelopmentSetup, public_app: PublicApp
) -> None:
    await browser.open(public_app.authorize_url())

    page = await browser.submit(
        ("decision", "approve"), uncheck=("ecommerce:write", "events:write")
    )

    assert page.status_code == 400 and "Grant at least one scope" in page.text
    assert count(runtime, Installation) == 0


async def test_a_literal_plus_also_separates_scopes(
    browser: Browser, dev: DevelopmentSetup, public_app: PublicApp
) -> None:
    url = (
        f"/oauth/authorize?client_id={public_app.client_id}&redirect_uri={REDIRECT_URI}"
        "&scope=events:write%2Becommerce:write"
    )

    page = await browser.open(url)

    assert page.status_code == 200
    assert sorted(v for n, v in browser.form().fields if n == "grant") == [
        "ecommerce:write",
        "events:write",
    ]


async def test_pages_refuse_framing_and_caching(
    browser: Browser, dev: DevelopmentSetup, public_app: PublicApp
) -> None:
    page = await browser.open(public_app.authorize_url())

    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"


async def test_another_company_can_sign_in_in_development(
    browser: Browser, dev: DevelopmentSetup, public_app: PublicApp, installer: Installer
) -> None:
    await browser.open(public_app.authorize_url(prompt="login"))
    assert "Company admin key" in browser.page.text  # type: ignore[union-attr]

    await browser.submit(fill={"admin_key": installer.admin_key})
    consent = await browser.follow()

    assert "Hudson &amp; Ivy" in consent.text and "Dev Company" not in consent.text
    code = await install(browser, public_app)
    assert code
