"""Every error is `{"error": {"id", "message"}}`, and the id is in the request's log line."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import httpx
import pytest
from starlette.requests import Request
from starlette.routing import BaseRoute, Mount, Route

from heedful.app import create_app
from heedful.config import Settings
from heedful.ops.coverage import app_routes
from heedful.runtime import Runtime
from tests.conftest import ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def assert_error_shape(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"id", "message"}
    assert isinstance(body["error"]["id"], int) and body["error"]["id"] > 0
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]  # type: ignore[no-any-return]


def request_log(caplog: pytest.LogCaptureFixture) -> logging.LogRecord:
    lines = [r for r in caplog.records if r.name == "heedful.http" and r.getMessage() == "request"]
    assert lines, "no request log line"
    return lines[-1]


async def test_unknown_route_is_404_in_error_shape(client: httpx.AsyncClient) -> None:
    error = assert_error_shape(await client.get("/v1/no-such-thing"), 404)

    assert error["message"] == "The specified resource was not found"


@pytest.mark.parametrize(
    "path",
    ["/v1/me/", "/v1/webhooks/", "/v1/privacy/delete-request/", "/admin/users/", "/healthz/"],
)
async def test_a_trailing_slash_is_an_unknown_route_not_a_redirect(
    client: httpx.AsyncClient, dev_headers: dict[str, str], path: str
) -> None:
    error = assert_error_shape(await client.get(path, headers=dev_headers), 404)

    assert error["message"] == "The specified resource was not found"


async def test_wrong_method_is_405_in_error_shape(
    client: httpx.AsyncClient, dev_headers: dict[str, str]
) -> None:
    response = await client.delete("/v1/me", headers=dev_headers)

    assert_error_shape(response, 405)
    assert "GET" in response.headers["allow"]


async def test_error_id_is_in_the_log_line(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="heedful")

    error = assert_error_shape(await client.get("/v1/me"), 401)

    record = request_log(caplog)
    assert record.error_id == error["id"]  # type: ignore[attr-defined]
    assert record.status == 401  # type: ignore[attr-defined]
    assert record.operation == "getMe"  # type: ignore[attr-defined]


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/admin/companies", headers=ADMIN, content=b'{"name": ')

    error = assert_error_shape(response, 400)
    assert "Malformed JSON" in str(error["message"])


# msgspec checks UTF-8 only inside strings and object keys, and there it raises Python's
# UnicodeDecodeError, not a DecodeError: each of these bodies was a 500.
INVALID_UTF8 = [
    ("/admin/companies", b'{"name": "Shop \xff"}', 15),
    ("/admin/sms/inbound", b'{"from": "+13115552368", "text": "Y\xff"}', 35),
    ("/v1/events/custom", b'{"type": "t\xc3", "user": {"phone": "+13115552368"}}', 11),
    ("/v1/identity-resolution/user-identifiers", b'{"phone": "+1311\xed\xa0\x80"}', 16),
    ("/v1/webhooks", b'{"url": "https://example.com/\xfe", "events": []}', 29),
]


@pytest.mark.parametrize(("path", "body", "offset"), INVALID_UTF8)
async def test_invalid_utf8_in_a_json_string_is_400_naming_the_byte(
    client: httpx.AsyncClient, dev_headers: dict[str, str], path: str, body: bytes, offset: int
) -> None:
    headers = ADMIN if path.startswith("/admin") else dev_headers

    response = await client.post(path, headers=headers, content=body)

    error = assert_error_shape(response, 400)
    assert error["message"] == f"Malformed JSON body: invalid UTF-8 at byte {offset}"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"name": 5}', "name"),
        (b"{}", "name"),
        (b'{"name": "A", "colour": "red"}', "colour"),
        (b'{"name": ""}', "name"),
        (b"[]", "object"),
    ],
)
async def test_invalid_body_is_400_naming_the_field(
    client: httpx.AsyncClient, body: bytes, field: str
) -> None:
    response = await client.post("/admin/companies", headers=ADMIN, content=body)

    error = assert_error_shape(response, 400)
    assert f"`{field}`" in str(error["message"])


@pytest.mark.parametrize(
    "path",
    ["/v1/events/custom", "/v1/attributes/custom", "/v1/identity-resolution/user-identifiers"],
)
async def test_deeply_nested_json_is_400(
    client: httpx.AsyncClient, dev_headers: dict[str, str], path: str
) -> None:
    # Well under the body limit, but deeper than the decoder recurses.
    nested = b'{"a":' * 5000 + b"1" + b"}" * 5000
    body = b'{"type":"t","user":{"phone":"+13115552368"},"properties":' + nested + b"}"

    response = await client.post(path, headers=dev_headers, content=body)

    error = assert_error_shape(response, 400)
    assert "nested too deeply" in str(error["message"])


async def test_body_over_the_limit_is_413(runtime: Runtime) -> None:
    settings = runtime.settings.model_copy(update={"max_body_bytes": 64})
    app = create_app(settings, Runtime(settings, runtime.db, runtime.clock, runtime.jobs))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        declared = await http.post("/admin/companies", headers=ADMIN, content=b"x" * 65)

        async def chunks():  # type: ignore[no-untyped-def]
            for _ in range(10):
                yield b"x" * 10

        streamed = await http.post("/admin/companies", headers=ADMIN, content=chunks())

    assert "64 bytes" in str(assert_error_shape(declared, 413)["message"])
    assert_error_shape(streamed, 413)


async def test_unhandled_exception_is_500_without_traceback(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    async def boom(request: Request) -> None:
        raise RuntimeError("secret internals")

    app = create_app(runtime.settings, runtime)
    app_routes(app).append(Route("/boom", boom))
    caplog.set_level(logging.INFO, logger="heedful")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.get("/boom")

    error = assert_error_shape(response, 500)
    assert error["message"] == "Internal Server Error"
    assert "secret internals" not in response.text and "Traceback" not in response.text
    logged = [r for r in caplog.records if r.getMessage() == "unhandled error"]
    assert logged and logged[0].error_id == error["id"]  # type: ignore[attr-defined]
    assert request_log(caplog).status == 500  # type: ignore[attr-defined]


async def test_secrets_never_reach_the_log(
    client: httpx.AsyncClient, dev_headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await client.get("/v1/me", headers=dev_headers)
    await client.get("/admin/companies", headers=ADMIN)
    key = dev_headers["Authorization"].removeprefix("Bearer ")

    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert key not in logged
    assert ADMIN_TOKEN not in logged


def test_placeholder_free_settings_default_to_sqlite() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]

    assert settings.is_sqlite and settings.database_url.endswith(".heedful/heedful.db")


async def test_client_disconnect_mid_body_is_logged_as_a_client_error(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(runtime.settings, runtime)
    caplog.set_level(logging.INFO, logger="heedful")
    messages = iter(
        [
            {"type": "http.request", "body": b'{"name":', "more_body": True},
            {"type": "http.disconnect"},
        ]
    )
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return next(messages)

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/admin/companies",
        "raw_path": b"/admin/companies",
        "query_string": b"",
        "headers": [(b"authorization", f"Bearer {ADMIN_TOKEN}".encode())],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("t", 80),
        "client": ("127.0.0.1", 1),
        "root_path": "",
    }
    await app(scope, receive, send)  # type: ignore[arg-type]

    assert sent[0]["status"] == 400
    assert not [r for r in caplog.records if r.getMessage() == "unhandled error"]


def _methods_by_path(routes: Sequence[BaseRoute], prefix: str = "") -> dict[str, set[str]]:
    """Every concrete path the app serves, with the union of its routes' methods."""
    found: dict[str, set[str]] = {}
    for route in routes:
        if isinstance(route, Mount):
            for path, methods in _methods_by_path(route.routes, prefix + route.path).items():
                found.setdefault(path, set()).update(methods)
        elif isinstance(route, Route) and route.methods:
            found.setdefault(prefix + route.path, set()).update(route.methods)
    return found


async def test_a_405_allows_every_method_of_the_path(
    runtime: Runtime, dev_headers: dict[str, str]
) -> None:
    # /admin/companies and /oauth/authorize each have a GET and a POST route: a 405 listed
    # only the first route's methods (`Allow: GET, HEAD`), which tells a client POST is wrong.
    app = create_app(runtime.settings, runtime)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        for template, methods in _methods_by_path(app_routes(app)).items():
            path = re.sub(r"\{[^}]*\}", "x", template)
            headers = ADMIN if path.startswith("/admin") else dev_headers
            response = await http.request("PATCH", path, headers=headers)

            assert_error_shape(response, 405)
            allowed = {method.strip() for method in response.headers["allow"].split(",")}
            assert allowed == methods, path


async def test_a_404_quotes_a_long_path_parameter_cut_short(
    client: httpx.AsyncClient, dev_headers: dict[str, str]
) -> None:
    # A 7,000-character id need not come back whole in the message.
    long_id = "W" * 7000

    response = await client.put(f"/v1/webhooks/{long_id}", json={}, headers=dev_headers)

    assert_error_shape(response, 404)
    message = response.json()["error"]["message"]
    assert "W" * 64 + "…" in message and len(message) < 120
