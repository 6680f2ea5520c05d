from __future__ import annotations

import httpx
import pytest

from heedful.errors import Unauthorized
from heedful.oauth.bootstrap import DevelopmentSetup
from heedful.oauth.scopes import KNOWN_SCOPES
from heedful.runtime import Runtime
from tests.cli.conftest import Heedful
from tests.cli.support import API_KEY, failed, lines, succeeded, token_scopes, value_of


@pytest.fixture
def app(heedful: Heedful) -> str:
    """An application `web` of company `Shop`, holding three scopes."""
    succeeded(heedful("company create Shop"))
    succeeded(
        heedful(
            "app create --company Shop --name web "
            "--scopes events:write --scopes webhooks:write --scopes segments:read"
        )
    )
    return "web"


def created_token(heedful: Heedful, options: str) -> str:
    result = succeeded(heedful(f"token create {options}"))
    token = lines(result)[-1]
    assert API_KEY.fullmatch(token), f"not a token alone on the last line:\n{result.stdout}"
    return token


def test_create_prints_the_token_alone_on_the_last_line(
    heedful: Heedful, runtime: Runtime, app: str
) -> None:
    token = created_token(heedful, f"--app {app}")

    assert token_scopes(runtime, token) == {"events:write", "webhooks:write", "segments:read"}


def test_narrowed_token_holds_exactly_the_given_scopes(
    heedful: Heedful, runtime: Runtime, app: str
) -> None:
    one = created_token(heedful, f"--app {app} --scopes events:write")
    two = created_token(heedful, f"--app {app} --scopes events:write --scopes segments:read")

    assert token_scopes(runtime, one) == {"events:write"}
    assert token_scopes(runtime, two) == {"events:write", "segments:read"}


def test_narrowing_beyond_the_app_fails(heedful: Heedful, app: str) -> None:
    result = heedful(f"token create --app {app} --scopes subscriptions:write")

    assert "does not hold: subscriptions:write" in failed(result)
    assert result.stdout == ""


def test_unknown_scope_or_app_fails(heedful: Heedful, app: str) -> None:
    bad_scope = heedful(f"token create --app {app} --scopes nonsense")
    assert "Unknown scope 'nonsense'" in failed(bad_scope)

    assert failed(heedful("token create --app nope")) == "error: No application 'nope'\n"


def test_same_app_name_in_two_companies_needs_company_or_client_id(
    heedful: Heedful, runtime: Runtime, app: str
) -> None:
    succeeded(heedful("company create Other"))
    other = succeeded(heedful(f"app create --company Other --name {app} --scopes offers:write"))

    assert "pass --company or a client id" in failed(heedful(f"token create --app {app}"))
    by_company = created_token(heedful, f"--app {app} --company Other")
    by_client_id = created_token(heedful, f"--app {value_of(other, 'client_id')}")
    assert token_scopes(runtime, by_company) == token_scopes(runtime, by_client_id)
    assert token_scopes(runtime, by_company) == {"offers:write"}


def test_revoke_makes_the_token_unauthorized(heedful: Heedful, runtime: Runtime, app: str) -> None:
    token, kept = created_token(heedful, f"--app {app}"), created_token(heedful, f"--app {app}")

    result = succeeded(heedful(f"token revoke {token}"))

    assert result.stdout == f"Revoked token {token[:8]}…\n"
    with pytest.raises(Unauthorized):
        token_scopes(runtime, token)
    assert token_scopes(runtime, kept)  # only that one
    succeeded(heedful(f"token revoke {token}"))  # again: nothing to do, still fine


def test_revoking_an_unknown_token_fails(heedful: Heedful) -> None:
    assert failed(heedful("token revoke hdf_nope")) == "error: No such token\n"


def test_documented_dev_flow(heedful: Heedful, runtime: Runtime, dev: DevelopmentSetup) -> None:
    """README: after `heedful serve` made the dev tenant, `heedful token create --app dev`."""
    token = created_token(heedful, "--app dev --scopes events:write")

    assert token_scopes(runtime, token) == {"events:write"}
    assert token_scopes(runtime, created_token(heedful, "--app dev")) == set(KNOWN_SCOPES)


async def test_a_cli_token_works_over_http(
    heedful: Heedful, client: httpx.AsyncClient, dev: DevelopmentSetup
) -> None:
    token = created_token(heedful, "--app dev --scopes events:write")
    headers = {"Authorization": f"Bearer {token}"}

    me = await client.get("/v1/me", headers=headers)
    assert me.status_code == 200
    assert (me.json()["companyName"], me.json()["applicationName"]) == ("Dev Company", "dev")

    succeeded(heedful(f"token revoke {token}"))
    assert (await client.get("/v1/me", headers=headers)).status_code == 401
