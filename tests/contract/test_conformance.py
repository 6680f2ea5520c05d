"""The app against the vendor contract: schemathesis fuzzes every implemented operation.

The operations under test are the ones the real app's routes implement, so a newly added
`@operation` is picked up without touching this file. Each one gets its own pytest test
(`test_getMe_conforms_to_the_spec`) running schemathesis's examples, coverage and fuzzing phases,
positive and negative, in-process over ASGI with the development company's all-scopes key. Every
response must pass all of schemathesis's checks: no 5xx, a status code the spec declares, the
declared content type, headers and schema, 4xx for invalid input and a correct `Allow` on 405.
Schemathesis cannot take OAuth2 credentials away by itself, so authentication has its own test.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, cast

import httpx
import hypothesis
import pytest
import schemathesis
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.schemas import OpenApiSchema
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from heedful.http.middleware import ObservedRequests
from heedful.ops.coverage import current_implemented
from heedful.spec import load_spec, spec_operations
from tests.contract.paths import SPEC_FILE

# The spec's server URL ends in /v1; in-process requests go to the same paths on the test host.
BASE_URL = "http://testserver/v1"
MAX_EXAMPLES = 50
SEED = 20_240_601

# heedful validates beyond the spec's schemas where the vendor documents rules the schemas leave
# out (webhook event names, E.164 phones, emails, "phone or email"), so schema-valid data may get
# a 400. Anything else for schema-valid data (413, 415, 422, ...) is still a failure.
POSITIVE_DATA_STATUSES = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]

TOKEN_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
}
# Answers heedful gives on purpose that the pinned spec does not declare, each with the schema
# the answer must still match. Keep this list short and justified: everything else the spec
# does not declare fails the harness.
DEVIATIONS: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {
    # The spec declares only 200 for the token exchange; a refused exchange is an RFC 6749 §5.2
    # error (DESIGN: "The OAuth token endpoint answers errors the RFC 6749 way").
    ("createTokenViaAuthorizationCode", "400"): ("RFC 6749 token error", TOKEN_ERROR),
    ("createTokenViaAuthorizationCode", "401"): ("RFC 6749 invalid_client", TOKEN_ERROR),
}


def conformance_config() -> schemathesis.Config:
    """Deterministic and bounded: fixed seed, derandomized, no example database, no deadline."""
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "base-url": BASE_URL,
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "checks": {"positive_data_acceptance": {"expected-statuses": POSITIVE_DATA_STATUSES}},
        }
    )


def contract_spec() -> dict[str, Any]:
    """The pinned spec plus `DEVIATIONS`, each as a declared JSON response."""
    spec: dict[str, Any] = json.loads(SPEC_FILE.read_bytes())
    operations = {
        op["operationId"]: op
        for item in spec["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    }
    for (operation_id, status), (description, body) in DEVIATIONS.items():
        operations[operation_id]["responses"][status] = {
            "description": f"heedful: {description}",
            "content": {"application/json": {"schema": body}},
        }
    return spec


def contract_schema() -> OpenApiSchema:
    """The contract, loaded by schemathesis with the harness's configuration."""
    return schemathesis.openapi.from_dict(contract_spec(), config=conformance_config())


CONTRACT = contract_schema()
# Read off the real app's routes when this module is imported (pytest's collection).
IMPLEMENTED = sorted(current_implemented())


def conformance_test(operation_id: str) -> Callable[..., None]:
    """The schemathesis test of one operation: examples, coverage and fuzzing phases."""

    # One app and one key serve all of an operation's examples, as for a real client; the
    # tables are emptied after each operation's test.
    @hypothesis.settings(suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])
    def test(
        case: schemathesis.Case[Any], app: ObservedRequests, dev_headers: dict[str, str]
    ) -> None:
        case.call_and_validate(app=app, headers=dev_headers)

    parametrize = CONTRACT.include(operation_id=operation_id).parametrize()
    return cast(Callable[..., None], parametrize(test))


# One module-level test function per implemented operation, `test_getMe_conforms_to_the_spec`
# (shown as `...[GET /me]`). A single `@schema.parametrize()` test would do, but on pytest >= 9.2
# schemathesis gives all its items one node id, so -k, --lf and reports could not tell them
# apart; schemathesis's fixture-based loader fails outright there (it sets `Node._nodeid`).
for _operation_id in IMPLEMENTED:
    globals()[f"test_{_operation_id}_conforms_to_the_spec"] = conformance_test(_operation_id)


def test_the_harness_covers_every_implemented_operation(implemented: set[str]) -> None:
    results = list(CONTRACT.get_all_operations())
    loaded = {r.ok().definition.raw["operationId"] for r in results if isinstance(r, Ok)}
    tests = {
        name.removeprefix("test_").removesuffix("_conforms_to_the_spec")
        for name, value in globals().items()
        if name.endswith("_conforms_to_the_spec") and callable(value)
    }

    assert len(loaded) == len(results) == 20, "schemathesis cannot load every spec operation"
    assert set(IMPLEMENTED) == implemented
    assert tests == implemented
    assert CONTRACT.get_base_url() == BASE_URL


def test_deviations_only_add_undeclared_responses() -> None:
    pinned = load_spec()
    declared = {
        op["operationId"]: set(op["responses"])
        for item in pinned["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    }

    for operation_id, status in DEVIATIONS:
        assert operation_id in declared, operation_id
        assert status not in declared[operation_id], (operation_id, status)
    assert contract_spec()["paths"].keys() == pinned["paths"].keys()


@pytest.mark.parametrize(
    ("status", "content_type", "body", "failure"),
    [
        (200, b"application/json", b'{"companyId": 7}', "Response violates schema"),
        (200, b"text/plain", b"{}", "Undocumented Content-Type"),
        (418, b"application/json", b"{}", "Undocumented status code"),
        (500, b"application/json", b"{}", "Server error"),
    ],
)
def test_the_harness_rejects_a_non_conforming_response(
    app: ObservedRequests,
    dev_headers: dict[str, str],
    status: int,
    content_type: bytes,
    body: bytes,
    failure: str,
) -> None:
    """The same call and checks as above, on an app whose answers have been tampered with."""
    case = CONTRACT.find_operation_by_id("getMe").Case()

    with pytest.raises(BaseExceptionGroup) as raised:
        case.call_and_validate(app=_tampered(app, status, content_type, body), headers=dev_headers)

    assert failure in [getattr(error, "title", None) for error in raised.value.exceptions]


async def test_unauthenticated_calls_are_401_in_the_error_shape(
    app: ObservedRequests, implemented: set[str]
) -> None:
    calls = [op for op in spec_operations() if op.operation_id in implemented]
    bearer_only = [op for op in calls if _requires_bearer(op.path)]
    assert bearer_only, "no bearer-protected operation implemented"
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        for op in bearer_only:
            for headers in ({}, {"Authorization": "Bearer not-a-key"}):
                response = await http.request(op.method, _concrete(op.path), headers=headers)

                where = (op.operation_id, headers)
                assert response.status_code == 401, (where, response.text)
                assert response.headers["content-type"] == "application/json", where
                body = response.json()
                assert set(body) == {"error"}, where
                assert set(body["error"]) == {"id", "message"}, where
                assert type(body["error"]["id"]) is int, where
                assert isinstance(body["error"]["message"], str), where
                assert body["error"]["message"], where


def _requires_bearer(path: str) -> bool:
    # The token endpoint (`x-requires-auth: false`) authenticates the client in its body instead.
    return load_spec()["paths"][path].get("x-requires-auth", True) is not False


def _concrete(path: str) -> str:
    """`/v1` plus the spec path with every `{parameter}` filled in (auth comes before it)."""
    return BASE_URL + re.sub(r"\{[^}]+\}", "1", path)


def _tampered(app: ASGIApp, status: int, content_type: bytes, body: bytes) -> ASGIApp:
    """`app`, but every HTTP answer gets this status, content type and body."""

    async def tampered(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def rewrite(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {
                    **message,
                    "status": status,
                    "headers": [(b"content-type", content_type)],
                }
            elif message["type"] == "http.response.body":
                message = {**message, "body": body}
            await send(message)

        await app(scope, receive, rewrite)

    return tampered
