"""POST /v1/authorization-codes/tokens: success, every RFC 6749 §5.2 error, replay, expiry."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import anyio.to_thread
import httpx
import jwt
import pytest
from pydantic import ValidationError
from sqlalchemy import select, text

from heedful.config import Settings
from heedful.core.clock import FrozenClock
from heedful.oauth.bootstrap import DevelopmentSetup
from heedful.runtime import Runtime
from heedful.storage.models import AccessToken
from tests.factories import make_tenant
from tests.oauth.support import (
    REDIRECT_URI,
    TOKEN_URL,
    Browser,
    PublicApp,
    bearer,
    callback_params,
    exchange,
    install,
    make_public_app,
)
from tests.races import wait_for_lock_waits


def assert_token_error(response: httpx.Response, status: int, error: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == error
    assert isinstance(body["error_description"], str) and body["error_description"]
    return body["error_description"]  # type: ignore[no-any-return]


class HeldInstallation:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def until_waiting(self, waiting: int) -> None:
        """PostgreSQL: until `waiting` transactions wait for the installation's row lock."""
        if self.runtime.db.dialect != "postgresql":
            return
        await anyio.to_thread.run_sync(
            wait_for_lock_waits, self.runtime.db, waiting, lambda: True, lambda: None
        )


@contextmanager
def holding_the_installation(runtime: Runtime) -> Iterator[HeldInstallation]:
    """PostgreSQL: another transaction holds the installations' row locks until the block
    ends, so token exchanges stop there, after reading their code. SQLite: nothing held."""
    if runtime.db.dialect != "postgresql":
        yield HeldInstallation(runtime)
        return
    with runtime.db.engine.connect() as blocker:
        blocker.execute(text("SELECT id FROM installations FOR UPDATE"))
        yield HeldInstallation(runtime)
        blocker.rollback()


@pytest.fixture
async def code(browser: Browser, dev: DevelopmentSetup, public_app: PublicApp) -> str:
    return await install(browser, public_app)


async def test_success_in_the_spec_shape_with_a_verifiable_id_token(
    client: httpx.AsyncClient, runtime: Runtime, dev: DevelopmentSetup, public_app: PublicApp,
    code: str,
) -> None:  # fmt: skip
    response = await exchange(client, public_app, code)

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-ratelimit-limit"] == "150"
    body = response.json()
    assert set(body) == {"access_token", "id_token", "token_type", "scope"}  # no expires_in
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "ecommerce:write events:write"
    claims = jwt.decode(
        body["id_token"],
        public_app.client_secret,
        algorithms=["HS256"],
        audience=public_app.client_id,
        issuer=runtime.settings.public_base_url,
    )
    assert base64.b64decode(claims["sub"] + "==") == f"07:Company{dev.company.id}".encode()
    assert claims["iat"] == int(runtime.clock.now().timestamp())
    assert claims["exp"] == claims["iat"] + 3600
    with runtime.db.transaction() as session:
        stored = session.scalars(select(AccessToken).where(AccessToken.kind == "oauth")).one()
        assert stored.installation_id is not None and stored.expires_at is None
        assert stored.company_id == dev.company.id
        assert body["access_token"] not in (stored.token_hash, stored.hint)


async def test_a_configured_lifetime_is_reported_and_enforced(
    runtime: Runtime, clock: FrozenClock, dev: DevelopmentSetup, public_app: PublicApp
) -> None:
    from heedful.app import create_app

    settings = runtime.settings.model_copy(update={"oauth_token_ttl": 900})
    app = create_app(settings, Runtime(settings, runtime.db, clock))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        code = await install(Browser(http), public_app)
        body = (await exchange(http, public_app, code)).json()
        assert body["expires_in"] == 900
        claims = jwt.decode(body["id_token"], options={"verify_signature": False})
        assert claims["exp"] - claims["iat"] == 900
        headers = bearer(body["access_token"])
        assert (await http.get("/v1/me", headers=headers)).status_code == 200

        clock.advance(timedelta(seconds=900))

        assert (await http.get("/v1/me", headers=headers)).status_code == 401


def test_a_lifetime_no_date_can_hold_is_refused_with_the_settings() -> None:
    # 10**12 s (31,700 years) was accepted, then every token exchange answered 500.
    with pytest.raises(ValidationError, match="oauth_token_ttl"):
        Settings(_env_file=None, oauth_token_ttl=10**12)  # type: ignore[call-arg]


async def test_client_secret_basic_is_accepted(
    client: httpx.AsyncClient, public_app: PublicApp, code: str
) -> None:
    form = public_app.token_form(code)
    del form["client_secret"], form["client_id"]

    response = await client.post(
        TOKEN_URL, data=form, auth=(public_app.client_id, public_app.client_secret)
    )

    assert response.status_code == 200, response.text


@pytest.mark.parametrize("client_id", ["a\x00b", "a%00b"])
async def test_a_basic_client_id_holding_nul_is_invalid_client(
    client: httpx.AsyncClient, public_app: PublicApp, code: str, client_id: str
) -> None:
    # Looked up as it was, it failed the query on PostgreSQL (text cannot hold NUL): a 500.
    form = public_app.token_form(code)
    del form["client_secret"], form["client_id"]
    basic = base64.b64encode(f"{client_id}:{public_app.client_secret}".encode()).decode()

    response = await client.post(TOKEN_URL, data=form, headers={"Authorization": f"Basic {basic}"})

    assert_token_error(response, 401, "invalid_client")
    assert (await exchange(client, public_app, code)).status_code == 200  # not used up


async def test_a_replayed_code_is_refused_and_revokes_its_token(
    client: httpx.AsyncClient, public_app: PublicApp, code: str
) -> None:
    token = (await exchange(client, public_app, code)).json()["access_token"]
    assert (await client.get("/v1/me", headers=bearer(token))).status_code == 200

    replay = await exchange(client, public_app, code)

    assert "already used" in assert_token_error(replay, 400, "invalid_grant")
    assert (await client.get("/v1/me", headers=bearer(token))).status_code == 401


async def test_concurrent_exchanges_of_one_code_issue_one_token(
    client: httpx.AsyncClient, runtime: Runtime, public_app: PublicApp, code: str
) -> None:
    answers = await asyncio.gather(*(exchange(client, public_app, code) for _ in range(4)))

    assert sorted(a.status_code for a in answers) == [200, 400, 400, 400]
    with runtime.db.transaction() as session:
        issued = session.scalars(select(AccessToken).where(AccessToken.kind == "oauth")).all()
        assert len(issued) == 1


async def test_a_code_exchanged_twice_at_once_revokes_the_one_token_it_issued(
    client: httpx.AsyncClient, runtime: Runtime, public_app: PublicApp, code: str
) -> None:
    # Both exchanges read the code before either claims it (PostgreSQL: held up on the
    # installation's row lock); the loser refused, but revoked nothing, while a replay a
    # moment later revokes the token. SQLite runs them one after the other.
    with holding_the_installation(runtime) as held:
        both = asyncio.gather(*(exchange(client, public_app, code) for _ in range(2)))
        await held.until_waiting(2)
    answers = await both

    [won] = [answer for answer in answers if answer.status_code == 200]
    assert "already used" in assert_token_error(
        next(answer for answer in answers if answer is not won), 400, "invalid_grant"
    )
    token = won.json()["access_token"]
    assert (await client.get("/v1/me", headers=bearer(token))).status_code == 401


async def test_an_expired_code_is_refused(
    client: httpx.AsyncClient, clock: FrozenClock, public_app: PublicApp, code: str
) -> None:
    clock.advance(timedelta(minutes=10))

    response = await exchange(client, public_app, code)

    assert "expired" in assert_token_error(response, 400, "invalid_grant")


async def test_a_code_is_still_good_just_before_ten_minutes(
    client: httpx.AsyncClient, clock: FrozenClock, public_app: PublicApp, code: str
) -> None:
    clock.advance(timedelta(minutes=10) - timedelta(seconds=1))

    assert (await exchange(client, public_app, code)).status_code == 200


async def test_a_different_redirect_uri_is_refused_without_using_up_the_code(
    client: httpx.AsyncClient, public_app: PublicApp, code: str
) -> None:
    wrong = await client.post(
        TOKEN_URL, data=public_app.token_form(code, redirect_uri=REDIRECT_URI + "/other")
    )

    assert "redirect_uri" in assert_token_error(wrong, 400, "invalid_grant")
    assert (await exchange(client, public_app, code)).status_code == 200


async def test_a_code_issued_to_another_client_is_refused(
    client: httpx.AsyncClient, runtime: Runtime, public_app: PublicApp, code: str
) -> None:
    other = make_public_app(runtime)

    form = public_app.token_form(code)
    form |= {"client_id": other.client_id, "client_secret": other.client_secret}
    response = await client.post(TOKEN_URL, data=form)

    assert_token_error(response, 400, "invalid_grant")
    assert (await exchange(client, public_app, code)).status_code == 200  # not used up


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"grant_type": "client_credentials"}, 400, "unsupported_grant_type"),
        ({"grant_type": "refresh_token"}, 400, "unsupported_grant_type"),
        ({"grant_type": None}, 400, "invalid_request"),
        ({"code": None}, 400, "invalid_request"),
        ({"redirect_uri": None}, 400, "invalid_request"),
        ({"code": "not-a-code"}, 400, "invalid_grant"),
        ({"client_id": None}, 401, "invalid_client"),
        ({"client_secret": None}, 401, "invalid_client"),
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": "unknown"}, 401, "invalid_client"),
    ],
)
async def test_refusals_in_rfc_6749_shape(
    client: httpx.AsyncClient,
    public_app: PublicApp,
    code: str,
    change: dict[str, str | None],
    status: int,
    error: str,
) -> None:
    form = {k: v for k, v in (public_app.token_form(code) | change).items() if v is not None}

    response = await client.post(TOKEN_URL, data=form)

    assert_token_error(response, status, error)
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Basic")


async def test_malformed_requests_are_invalid_request(
    client: httpx.AsyncClient, public_app: PublicApp, code: str
) -> None:
    form = public_app.token_form(code)
    as_json = await client.post(TOKEN_URL, json=form)
    repeated = await client.post(
        TOKEN_URL, content=httpx.QueryParams(form).add("code", "x").__str__(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    not_utf8 = await client.post(
        TOKEN_URL,
        content=b"code=\xff",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    two_methods = await client.post(
        TOKEN_URL, data=form, auth=(public_app.client_id, public_app.client_secret)
    )

    assert "x-www-form-urlencoded" in assert_token_error(as_json, 400, "invalid_request")
    assert "`code` is given more than once" in assert_token_error(repeated, 400, "invalid_request")
    assert_token_error(not_utf8, 400, "invalid_request")
    assert_token_error(two_methods, 400, "invalid_request")
    assert (await exchange(client, public_app, code)).status_code == 200  # none used it up


async def test_a_rotated_secret_replaces_the_old_one(
    client: httpx.AsyncClient, runtime: Runtime, public_app: PublicApp, code: str
) -> None:
    from heedful.oauth import service

    with runtime.db.transaction() as session:
        application = service.find_application(session, public_app.client_id)
        new_secret = service.rotate_client_secret(session, application)

    old = await exchange(client, public_app, code)
    new = await client.post(
        TOKEN_URL, data={**public_app.token_form(code), "client_secret": new_secret}
    )

    assert_token_error(old, 401, "invalid_client")
    assert new.status_code == 200


async def test_rate_limited_per_client_id(
    runtime: Runtime, clock: FrozenClock, public_app: PublicApp
) -> None:
    from heedful.app import create_app
    from heedful.http.ratelimit import RateLimiter

    limits = {"createTokenViaAuthorizationCode": 2}
    settings = runtime.settings.model_copy(update={"rate_limit_overrides": limits})
    limited = Runtime(settings, runtime.db, clock)
    limited.limiter = RateLimiter(settings.rate_limit_for, now=lambda: 1_000.5)  # one window
    transport = httpx.ASGITransport(app=create_app(settings, limited), raise_app_exceptions=False)
    other = make_public_app(runtime)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        answers = [await exchange(http, public_app, "nope") for _ in range(3)]
        others = await exchange(http, other, "nope")

    assert [a.status_code for a in answers] == [400, 400, 429]
    assert answers[1].headers["x-ratelimit-remaining"] == "0"
    assert answers[2].headers["retry-after"] == "1"
    assert others.status_code == 400  # another client has its own count


async def test_scopes_granted_narrower_than_requested_are_enforced(
    browser: Browser, client: httpx.AsyncClient, dev: DevelopmentSetup, public_app: PublicApp
) -> None:
    await browser.open(public_app.authorize_url(scope="webhooks:write ecommerce:write"))
    redirect = await browser.submit(("decision", "approve"), uncheck=("webhooks:write",))
    code = callback_params(redirect)["code"]

    body = (await exchange(client, public_app, code)).json()
    listed = await client.get("/v1/webhooks", headers=bearer(body["access_token"]))

    assert body["scope"] == "ecommerce:write"
    assert listed.status_code == 403
    assert "webhooks:write" in listed.json()["error"]["message"]


async def test_token_of_one_company_cannot_read_another(
    client: httpx.AsyncClient, runtime: Runtime, dev: DevelopmentSetup, public_app: PublicApp
) -> None:
    other = make_tenant(runtime, name="Other Shop")
    hook = {"url": "http://127.0.0.1:9/hook", "events": ["sms.subscribed"]}
    made = await client.post("/v1/webhooks", json=hook, headers=other.headers)
    assert made.status_code == 201
    code = await install(Browser(client), public_app, scope="webhooks:write")
    token = (await exchange(client, public_app, code)).json()["access_token"]

    mine = await client.get("/v1/webhooks", headers=bearer(token))
    theirs = await client.get("/v1/webhooks", headers=other.headers)
    deleted = await client.delete(f"/v1/webhooks/{made.json()['id']}", headers=bearer(token))

    assert mine.status_code == 200 and mine.json()["webhooks"] == []
    assert [w["id"] for w in theirs.json()["webhooks"]] == [made.json()["id"]]
    assert deleted.status_code == 404
    assert (await client.get("/v1/me", headers=bearer(token))).json()[
        "companyName"
    ] == "Dev Company"


async def test_the_body_size_cap_applies_without_a_bearer_token(
    runtime: Runtime, clock: FrozenClock, public_app: PublicApp
) -> None:
    from heedful.app import create_app

    settings = runtime.settings.model_copy(update={"max_body_bytes": 512})
    app = create_app(settings, Runtime(settings, runtime.db, clock))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        form = public_app.token_form("x" * 600)
        response = await http.post(TOKEN_URL, data=form)

    assert response.status_code == 413
    assert "512 bytes" in response.json()["error"]["message"]
