"""Every secret heedful handles, through its flows and their failures (a wrong secret, a
replayed code, a refused upload, an SMTP server refusing the login, a webhook receiver that is
down): none is ever in a log line (at DEBUG), in /metrics, in an error answer, or in a row
other than the one that must keep it readable."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from heedful.config import Settings
from heedful.core.clock import FrozenClock
from heedful.http.logs import JsonFormatter
from heedful.oauth.bootstrap import DevelopmentSetup
from heedful.runtime import Runtime
from heedful.storage.db import Database
from heedful.storage.models import Base
from heedful.storage.models.messaging import Message
from heedful.storage.models.webhooks import Webhook, WebhookAttempt
from tests.conftest import ADMIN_TOKEN
from tests.messaging.conftest import SMTP_USER, Mailbox, mailbox, smtp_runtime
from tests.oauth.conftest import Installer
from tests.oauth.support import Browser, PublicApp, bearer, exchange, install
from tests.privacy.test_completeness import dispatch
from tests.subscriptions.support import dev_source

__all__ = ["mailbox"]  # the SMTP server fixture, used here

SMTP_PASSWORD = "smtp-password-0123456789"
SIGNING_SECRET = "catalog-signing-secret-0123456789"
# Columns that must keep a secret readable: the HMAC key of every delivery, and the upload URL
# (the vendor's API hands it out again on every lookup).
READABLE = {("webhooks", "signing_key"), ("catalog_uploads", "upload_url")}


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={
            "catalog_upload_dir": str(tmp_path / "uploads"),
            "catalog_signing_secret": SecretStr(SIGNING_SECRET),
            "rate_limits": "off",
        }
    )


def rows_holding(runtime: Runtime, secret: str) -> list[str]:
    found = []
    with runtime.db.read() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)):
                for column, value in row._mapping.items():
                    if (table.name, column) not in READABLE and secret in json.dumps(
                        value, default=str
                    ):
                        found.append(f"{table.name}.{column}")
    return found


async def test_no_secret_is_logged_stored_readable_or_answered(
    client: httpx.AsyncClient,
    runtime: Runtime,
    db: Database,
    clock: FrozenClock,
    dev: DevelopmentSetup,
    dev_headers: dict[str, str],
    public_app: PublicApp,
    browser: Browser,
    installer: Installer,
    mailbox: tuple[Mailbox, int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    answers: list[httpx.Response] = []
    secrets = {
        "api key": dev.new_api_key or "",
        "client secret": public_app.client_secret,
        "admin token": ADMIN_TOKEN,
        "company admin key": installer.admin_key,
        "smtp password": SMTP_PASSWORD,
        "catalog signing secret": SIGNING_SECRET,
    }

    # OAuth: a wrong client secret, the exchange, a replay; the token used, and mistyped.
    code = await install(browser, public_app)
    secrets["authorization code"] = code
    wrong = {**public_app.token_form(code), "client_secret": public_app.client_secret + "x"}
    answers.append(await client.post("/v1/authorization-codes/tokens", data=wrong))
    issued = await exchange(client, public_app, code)
    secrets["access token"] = issued.json()["access_token"]
    answers.append(await client.get("/v1/me", headers=bearer(secrets["access token"])))
    answers.append(await client.get("/v1/me", headers=bearer(secrets["access token"] + "x")))
    answers.append(await exchange(client, public_app, code))
    answers.append(await client.get("/v1/me", headers=bearer(ADMIN_TOKEN)))
    answers.append(await client.get("/admin/companies", headers=dev_headers))
    # The consent page's sign-in with a mistyped admin key, then the right one.
    await browser.open(public_app.authorize_url(prompt="login"))
    answers.append(await browser.submit(fill={"admin_key": installer.admin_key + "x"}))
    await browser.open(public_app.authorize_url(prompt="login"))
    answers.append(await browser.submit(fill={"admin_key": installer.admin_key}))
    answers.append(await browser.follow())

    # A webhook whose receiver is down.
    hook = {"url": "http://127.0.0.1:9/down", "events": ["custom_attribute.set"]}
    answers.append(await client.post("/v1/webhooks", json=hook, headers=dev_headers))
    with runtime.db.read() as session:
        secrets["webhook signing key"] = session.scalars(select(Webhook.signing_key)).one()
    attribute = {"properties": {"tier": "gold"}, "user": {"phone": "+13115552368"}}
    answers.append(await client.post("/v1/attributes/custom", json=attribute, headers=dev_headers))
    assert await dispatch(runtime) == 1

    # A catalog upload URL: a stray GET and a refused PUT leave it valid.
    upload = await client.post("/v1/product-catalog/uploads", json={}, headers=dev_headers)
    path = httpx.URL(upload.json()["uploadUrl"]).path
    secrets["upload url token"] = path.rsplit("/", 1)[1]
    answers.append(await client.get(path))
    answers.append(await client.put(path[:-1], content=b"{}"))

    # An email through an SMTP server that refuses the login.
    subscribe = {"user": {"email": "a@example.com"}, "signUpSourceId": dev_source(runtime, dev)}
    answers.append(await client.post("/v1/subscriptions", json=subscribe, headers=dev_headers))
    mailer = smtp_runtime(
        runtime.settings,
        db,
        clock,
        mailbox[1],
        smtp_username=SMTP_USER,
        smtp_password=SecretStr(SMTP_PASSWORD),
    )
    assert mailer.worker().run_until_idle() == 1

    metrics = (await client.get("/metrics")).text
    formatter = JsonFormatter()
    lines = [formatter.format(r) for r in caplog.records if r.name.startswith("heedful")]
    # Not vacuous: the failures happened and were recorded.
    with runtime.db.read() as session:
        [sent] = session.scalars(select(Message).where(Message.channel == "EMAIL")).all()
        [attempt] = session.scalars(select(WebhookAttempt)).all()
    assert sent.last_error is not None and "SMTP" in sent.last_error, sent.last_error
    assert attempt.error is not None
    for name, secret in secrets.items():
        assert secret, name
        assert [line for line in lines if secret in line] == [], name
        assert secret not in metrics, name
        assert [r.url for r in answers if secret in r.text] == [], name
        assert rows_holding(runtime, secret) == [], name


def test_objects_carrying_a_secret_keep_it_out_of_their_repr() -> None:
    """A repr reaches a log line through `%r`, an f-string or a debugger's dump: the value
    objects that carry a secret in clear show everything else but the secret."""
    from datetime import UTC, datetime

    from heedful.messaging.transports import SmtpTransport
    from heedful.oauth.service.tenants import NewApplication, NewCompany
    from heedful.oauth.service.tokens import IssuedToken, TokenRequest
    from heedful.webhooks.dispatcher import Outgoing

    secret = "s3cret-value-0123456789"
    carriers = [
        SmtpTransport("smtp.example.com", 587, "starttls", "user", secret, "a@b.c", 5.0),
        TokenRequest("authorization_code", secret, "https://x/cb", "client", secret),
        IssuedToken(secret, secret, 3600, ("events:write",)),
        NewCompany(company=None, admin_key=secret),  # type: ignore[arg-type]
        NewApplication(application=None, client_secret=secret, api_key=secret),  # type: ignore[arg-type]
        DevelopmentSetup(company=None, application=None, new_api_key=secret),  # type: ignore[arg-type]
        Outgoing(1, 1, 1, "wh", "https://x", secret, b"{}", 1, datetime.now(UTC)),
    ]
    for carrier in carriers:
        assert secret not in repr(carrier), type(carrier).__name__
        assert type(carrier).__name__ in repr(carrier)
