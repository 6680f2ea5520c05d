"""The pinned spec itself: where it comes from, how it is served, and what heedful's scopes say."""

from __future__ import annotations

import json

import httpx
import pytest

from heedful.config import Settings
from heedful.oauth.scopes import OPERATION_SCOPES
from heedful.spec import load_spec, spec_bytes
from tests.contract.paths import SHARED_SPEC, SPEC_FILE

# Scopes heedful accepts beyond the spec's: newer vendor docs name `subscriptions:read` here.
EXTRA_SCOPES: dict[str, tuple[str, ...]] = {"getSubscriptions": ("subscriptions:read",)}


def _security_scopes() -> dict[str, tuple[str, ...]]:
    """operationId -> the OAuth scopes its effective `security` requires (own, else the root's)."""
    spec = load_spec()
    found: dict[str, tuple[str, ...]] = {}
    for item in spec["paths"].values():
        for op in item.values():
            if isinstance(op, dict) and "operationId" in op:
                security = op.get("security", spec.get("security", []))
                scopes = tuple(s for req in security for s in req.get("OAuthFlow", []))
                found[op["operationId"]] = scopes
    assert len(found) == 20, sorted(found)
    return found


def test_operation_scopes_name_spec_operations_with_the_spec_scopes() -> None:
    declared = _security_scopes()

    for operation_id, scopes in OPERATION_SCOPES.items():
        assert operation_id in declared, f"{operation_id} is not an operation of the spec"
        # The spec's scope first: a 403 names the first scope of the list.
        expected = (*declared[operation_id], *EXTRA_SCOPES.get(operation_id, ()))
        assert scopes == expected, operation_id


def test_every_bearer_operation_has_a_scope_entry() -> None:
    """An operation missing from OPERATION_SCOPES would accept a token with no scopes at all."""
    spec = load_spec()
    bearer = {
        op["operationId"]
        for item in spec["paths"].values()
        if item.get("x-requires-auth", True) is not False
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    }

    assert bearer - set(OPERATION_SCOPES) == set()
    assert "createTokenViaAuthorizationCode" not in bearer


@pytest.mark.skipif(not SHARED_SPEC.is_file(), reason=f"no shared spec at {SHARED_SPEC}")
def test_pinned_spec_is_the_shared_spec() -> None:
    assert SPEC_FILE.read_bytes() == SHARED_SPEC.read_bytes(), (
        f"{SPEC_FILE} differs from {SHARED_SPEC}; copy the shared spec over the pinned one"
    )


def test_spec_bytes_are_the_pinned_file() -> None:
    assert spec_bytes() == SPEC_FILE.read_bytes()
    assert load_spec()["servers"][0]["url"].endswith("/v1")


async def test_openapi_json_serves_the_pinned_spec_with_this_server_first(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    response = await client.get("/openapi.json")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    served, pinned = response.json(), json.loads(SPEC_FILE.read_bytes())
    # A client generated from it defaults to heedful, not to the vendor's production API.
    here = {"url": f"{settings.public_base_url}/v1", "description": "heedful"}
    assert served.pop("servers") == [here, *pinned.pop("servers")]
    assert served == pinned


def test_contract_tests_run_without_rate_limits(settings: Settings) -> None:
    assert settings.rate_limit_for("getMe") is None
    assert settings.rate_limit_for("postUpload") is None
