from __future__ import annotations

import shlex

import pytest

from heedful.core.crypto import hash_secret
from heedful.oauth import repository, service
from heedful.oauth.scopes import KNOWN_SCOPES
from heedful.runtime import Runtime
from tests.cli.conftest import Heedful
from tests.cli.support import (
    API_KEY,
    created_company_id,
    failed,
    lines,
    succeeded,
    token_scopes,
    value_of,
)


@pytest.fixture
def company(heedful: Heedful) -> str:
    succeeded(heedful("company create Shop"))
    return "Shop"


def test_create_prints_credentials_and_a_working_api_key(
    heedful: Heedful, runtime: Runtime, company: str
) -> None:
    result = succeeded(
        heedful(
            f"app create --company {company} --name storefront "
            "--scopes events:write --scopes webhooks:write --redirect-uri https://x/cb"
        )
    )

    client_id, client_secret = value_of(result, "client_id"), value_of(result, "client_secret")
    assert "scopes:        events:write webhooks:write" in lines(result)
    api_key = lines(result)[-1]
    assert API_KEY.fullmatch(api_key), result.stdout  # whole, in a 40-column terminal
    with runtime.db.transaction() as session:
        application = repository.application_by_client_id(session, client_id)
        assert application is not None
        assert application.name == "storefront"
        assert application.client_secret_hash == hash_secret(client_secret)
        assert application.redirect_uris == ["https://x/cb"]
        assert application.company_id == service.find_company(session, company).id
    assert token_scopes(runtime, api_key) == {"events:write", "webhooks:write"}


def test_scopes_all_grants_every_known_scope(
    heedful: Heedful, runtime: Runtime, company: str
) -> None:
    result = succeeded(heedful(f"app create --company {company} --name all --scopes all"))

    assert token_scopes(runtime, lines(result)[-1]) == set(KNOWN_SCOPES)


def test_scopes_may_be_comma_or_space_separated(
    heedful: Heedful, runtime: Runtime, company: str
) -> None:
    result = succeeded(
        heedful(
            f"app create --company {company} --name n "
            "--scopes 'events:write,webhooks:write segments:read'"
        )
    )

    assert token_scopes(runtime, lines(result)[-1]) == {
        "events:write",
        "webhooks:write",
        "segments:read",
    }


@pytest.mark.parametrize("bad", ["events:wrte", "[/x]"])
def test_unknown_scope_fails_naming_it(
    heedful: Heedful, runtime: Runtime, company: str, bad: str
) -> None:
    result = heedful(
        f"app create --company {company} --name n --scopes events:write --scopes {shlex.quote(bad)}"
    )

    assert f"Unknown scope '{bad}'" in failed(result)
    assert result.stdout == ""
    with runtime.db.transaction() as session:
        assert repository.applications_named(session, "n", None) == []


def test_unknown_company_fails_clearly(heedful: Heedful) -> None:
    result = heedful("app create --company Nope --name n --scopes all")

    assert failed(result) == "error: No company 'Nope'\n"


def test_company_may_be_given_by_id(heedful: Heedful, runtime: Runtime) -> None:
    public_id = created_company_id(succeeded(heedful("company create Shop")))

    result = succeeded(heedful(f"app create --company {public_id} --name n --scopes all"))

    assert token_scopes(runtime, lines(result)[-1]) == set(KNOWN_SCOPES)
