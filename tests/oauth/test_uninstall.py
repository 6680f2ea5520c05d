"""Uninstalling an app, with `heedful app uninstall` and `heedful app rotate-secret`."""

from __future__ import annotations

import httpx
import pytest
from typer.testing import Result

from heedful.core import ids
from heedful.oauth.bootstrap import DevelopmentSetup
from heedful.runtime import Runtime
from tests.conftest import ADMIN_TOKEN
from tests.oauth.conftest import Heedful
from tests.oauth.support import Browser, PublicApp, bearer, exchange, install
from tests.webhooks.support import deliveries, emit


async def test_uninstall_revokes_every_token_and_pending_code(
    browser: Browser, client: httpx.AsyncClient, heedful: Heedful, dev: DevelopmentSetup,
    public_app: PublicApp,
) -> None:  # fmt: skip
    tokens = []
    for _ in range(2):
        code = await install(browser, public_app)
        tokens.append((await exchange(client, public_app, code)).json()["access_token"])
    pending = await install(browser, public_app)
    dev_key = {"Authorization": f"Bearer {dev.new_api_key}"}

    result = succeeded(
        heedful("app", "uninstall", "--app", public_app.name, "--company", "Dev Company")
    )

    assert lines(result)[-1] == (
        f"Uninstalled {public_app.name} from Dev Company; revoked 2 access token(s)"
    )
    for token in tokens:
        assert (await client.get("/v1/me", headers=bearer(token))).status_code == 401
    assert (await exchange(client, public_app, pending)).json()["error"] == "invalid_grant"
    assert (await client.get("/v1/me", headers=dev_key)).status_code == 200  # API keys stay


async def test_reinstalling_after_uninstall_works_with_new_tokens_only(
    browser: Browser, client: httpx.AsyncClient, heedful: Heedful, dev: DevelopmentSetup,
    public_app: PublicApp,
) -> None:  # fmt: skip
    old = (await exchange(client, public_app, await install(browser, public_app))).json()
    succeeded(
        heedful("app", "uninstall", "--app", public_app.client_id, "--company", "Dev Company")
    )

    new = (await exchange(client, public_app, await install(browser, public_app))).json()

    assert (await client.get("/v1/me", headers=bearer(old["access_token"]))).status_code == 401
    assert (await client.get("/v1/me", headers=bearer(new["access_token"]))).status_code == 200


def test_uninstalling_what_is_not_installed_fails_cleanly(
    heedful: Heedful, dev: DevelopmentSetup, public_app: PublicApp
) -> None:
    stderr = failed(
        heedful("app", "uninstall", "--app", public_app.name, "--company", "Dev Company")
    )

    assert "is not installed on 'Dev Company'" in stderr


async def test_rotate_secret_prints_a_new_working_secret(
    browser: Browser, client: httpx.AsyncClient, heedful: Heedful, dev: DevelopmentSetup,
    public_app: PublicApp,
) -> None:  # fmt: skip
    result = succeeded(heedful("app", "rotate-secret", "--app", public_app.name))
    secret = value_of(result, "client_secret")
    code = await install(browser, public_app)

    old = await exchange(client, public_app, code)
    new = await client.post(
        "/v1/authorization-codes/tokens",
        data={**public_app.token_form(code), "client_secret": secret},
    )

    assert value_of(result, "client_id") == public_app.client_id
    assert old.status_code == 401 and new.status_code == 200


def test_app_create_lists_redirect_uris_and_refuses_bad_ones(
    heedful: Heedful, runtime: Runtime
) -> None:
    succeeded(heedful("company", "create", "Maker"))
    made = succeeded(
        heedful(
            "app",
            "create",
            "--company",
            "Maker",
            "--name",
            "pillow",
            "--scopes",
            "events:write",
            "--redirect-uri",
            "https://a.example/cb",
            "--redirect-uri",
            "http://127.0.0.1:9/cb",
        )
    )
    bad = heedful(
        "app", "create", "--company", "Maker", "--name", "x", "--scopes", "events:write",
        "--redirect-uri", "/relative#frag",
    )  # fmt: skip

    assert "redirect_uris: https://a.example/cb http://127.0.0.1:9/cb" in lines(made)
    assert "must be an absolute URI" in failed(bad)


@pytest.mark.parametrize(
    "uri", ["javascript:alert(1)", "JavaScript://x/%0aalert(1)", "data:text/html,hi", "vbscript:x"]
)
def test_a_redirect_uri_with_a_script_scheme_is_refused(uri: str, heedful: Heedful) -> None:
    succeeded(heedful("company", "create", "Maker"))
    bad = heedful(
        "app", "create", "--company", "Maker", "--name", "x", "--scopes", "events:write",
        "--redirect-uri", uri,
    )  # fmt: skip
    assert "must not use the" in failed(bad)


def lines(result: Result) -> list[str]:
    return result.stdout.splitlines()


def value_of(result: Result, label: str) -> str:
    found = [line for line in lines(result) if line.startswith(f"{label}:")]
    assert found, result.stdout
    return found[0].removeprefix(f"{label}:").split()[0]


def succeeded(result: Result) -> Result:
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return result


def failed(result: Result) -> str:
    """A clean failure: exit 1, an `error:` line on stderr, no traceback."""
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.startswith("error: "), result.stderr
    return result.stderr


HOOK = {"url": "https://example.com/hooks", "events": ["sms.sent"]}


async def _installed_token(client: httpx.AsyncClient, browser: Browser, app: PublicApp) -> str:
    code = await install(browser, app, scope="webhooks:write")
    return str((await exchange(client, app, code)).json()["access_token"])


async def test_an_apps_webhooks_are_its_own_among_the_companys_apps(
    browser: Browser, client: httpx.AsyncClient, dev: DevelopmentSetup, public_app: PublicApp
) -> None:
    # Two apps installed on one company (the vendor's ids name a CompanyApplicationWebhook):
    # neither lists, changes nor deletes the other's webhooks.
    app_token = bearer(await _installed_token(client, browser, public_app))
    dev_key = {"Authorization": f"Bearer {dev.new_api_key}"}
    made = (await client.post("/v1/webhooks", json=HOOK, headers=app_token)).json()
    own = (await client.post("/v1/webhooks", json=HOOK, headers=dev_key)).json()

    listed = (await client.get("/v1/webhooks", headers=dev_key)).json()["webhooks"]
    assert [hook["id"] for hook in listed] == [own["id"]]
    path = f"/v1/webhooks/{made['id']}"
    assert (await client.put(path, json={"disabled": True}, headers=dev_key)).status_code == 404
    assert (await client.delete(path, headers=dev_key)).status_code == 404
    mine = (await client.get("/v1/webhooks", headers=app_token)).json()["webhooks"]
    assert [(hook["id"], "disabledAt" in hook) for hook in mine] == [(made["id"], False)]
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    shown = [
        await client.get(f"/admin/webhooks/{hook['id']}", headers=admin) for hook in (made, own)
    ]
    owners = {answer.json()["webhook"]["applicationId"] for answer in shown}
    assert len(owners) == 2 and None not in owners


async def test_uninstalling_an_app_deletes_its_webhooks_and_their_pending_deliveries(
    browser: Browser, client: httpx.AsyncClient, heedful: Heedful, dev: DevelopmentSetup,
    public_app: PublicApp, runtime: Runtime,
) -> None:  # fmt: skip
    # An uninstalled app must stop receiving the company's subscribers' data.
    app_token = bearer(await _installed_token(client, browser, public_app))
    dev_key = {"Authorization": f"Bearer {dev.new_api_key}"}
    made = (await client.post("/v1/webhooks", json=HOOK, headers=app_token)).json()
    own = (await client.post("/v1/webhooks", json=HOOK, headers=dev_key)).json()
    emit(runtime, dev.company.id)  # one delivery each, not yet sent

    succeeded(heedful("app", "uninstall", "--app", public_app.name, "--company", "Dev Company"))
    emit(runtime, dev.company.id)

    by_hook = {}
    for delivery in deliveries(runtime):
        by_hook.setdefault(ids.WEBHOOK.encode(delivery.webhook_id), []).append(delivery.state)
    assert by_hook == {made["id"]: ["cancelled"], own["id"]: ["pending", "pending"]}
    listed = (await client.get("/v1/webhooks", headers=dev_key)).json()["webhooks"]
    assert [hook["id"] for hook in listed] == [own["id"]]
