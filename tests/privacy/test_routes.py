"""POST and GET /v1/privacy/delete-request: the vendor's shapes, 400 rules, 404s, scopes."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from heedful.core.clock import FrozenClock
from heedful.runtime import Runtime
from heedful.storage.models import Job
from heedful.storage.models.privacy import PrivacyRequest
from tests.factories import make_tenant
from tests.http.test_errors import assert_error_shape
from tests.privacy.conftest import PATH

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000")
NEITHER = {"error": "Must either specify subscriberPhone or subscriberEmail"}


async def test_post_answers_the_vendor_shape_and_get_masks(
    client: httpx.AsyncClient, dev_headers: dict[str, str]
) -> None:
    body = {
        "subjectEmail": "abc@website.com",
        "subjectPhone": "+15555555555",
        "requestMsg": "The subscriber requested to be removed",
    }
    response = await client.post(PATH, json=body, headers=dev_headers)

    assert response.status_code == 200, response.text
    made = response.json()
    assert re.fullmatch(r"[a-z0-9]{20}", made["id"])
    assert made["processed"] is False and made["type"] == "DELETE"
    assert made["subjectPhone"] == "+15555555555"
    assert made["subjectEmail"] == "abc@website.com"
    assert made["requestMsg"] == "The subscriber requested to be removed"
    assert TIMESTAMP.fullmatch(made["requestDateTime"])
    assert "processingStartDateTime" not in made

    got = (await client.get(f"{PATH}/{made['id']}", headers=dev_headers)).json()
    assert got["subjectPhone"] == "+*****5555"
    assert got["subjectEmail"] == "a**@website.com"
    assert got["id"] == made["id"] and got["requestDateTime"] == made["requestDateTime"]


async def test_the_vendors_example_body_is_accepted_as_a_us_number(
    client: httpx.AsyncClient, dev_headers: dict[str, str]
) -> None:
    body = {"subjectEmail": "user@email.com", "subjectPhone": "1111111111", "requestMsg": "A"}
    response = await client.post(PATH, json=body, headers=dev_headers)

    assert response.status_code == 200, response.text
    assert response.json()["subjectPhone"] == "+11111111111"


@pytest.mark.parametrize(
    "body",
    [{}, {"requestMsg": "please"}, {"subjectPhone": "", "subjectEmail": "  "}],
)
async def test_neither_identifier_is_the_vendors_exact_400(
    client: httpx.AsyncClient, dev_headers: dict[str, str], body: dict[str, str]
) -> None:
    response = await client.post(PATH, json=body, headers=dev_headers)

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json() == NEITHER


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b'{"subjectPhone": "12"}', "subjectPhone"),
        (b'{"subjectPhone": "+1 311 CALL NOW"}', "subjectPhone"),
        (b'{"subjectPhone": "311+5552368"}', "subjectPhone"),
        (b'{"subjectEmail": "not-an-email"}', "subjectEmail"),
        (b'{"subjectEmail": 7}', "subjectEmail"),
        (b'{"subjectEmail": "a@b.co", "requestMsg": ["x"]}', "requestMsg"),
        (b'{"clientUserId": "' + b"x" * 101 + b'"}', "clientUserId"),
        (b"[]", "body"),
        (b"{not json", "JSON"),
        (b"", "body"),
    ],
)
async def test_other_400s_keep_the_privacy_shape_and_name_the_field(
    client: httpx.AsyncClient, dev_headers: dict[str, str], content: bytes, field: str
) -> None:
    response = await client.post(
        PATH, content=content, headers={**dev_headers, "content-type": "application/json"}
    )

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"], str)
    assert field.lower() in body["error"].lower(), body


async def test_a_refused_request_stores_and_schedules_nothing(
    client: httpx.AsyncClient, dev_headers: dict[str, str], runtime: Runtime
) -> None:
    await client.post(PATH, json={"subjectPhone": "12"}, headers=dev_headers)

    with runtime.db.transaction() as session:
        assert session.scalars(select(PrivacyRequest)).all() == []
        assert session.scalars(select(Job)).all() == []


async def test_client_user_id_alone_is_accepted(
    client: httpx.AsyncClient, dev_headers: dict[str, str]
) -> None:
    response = await client.post(PATH, json={"clientUserId": "cu-1"}, headers=dev_headers)

    assert response.status_code == 200
    assert "subjectPhone" not in response.json() and "subjectEmail" not in response.json()


async def test_unknown_malformed_and_other_companys_ids_are_404(
    client: httpx.AsyncClient, dev_headers: dict[str, str], runtime: Runtime
) -> None:
    other = make_tenant(runtime)
    made = await client.post(PATH, json={"subjectEmail": "a@b.co"}, headers=other.headers)
    theirs = made.json()["id"]

    for request_id in (theirs, "abc123", "not-alnum!", "x" * 300, "%C3%A9"):
        response = await client.get(f"{PATH}/{request_id}", headers=dev_headers)
        assert_error_shape(response, 404)
    assert (await client.get(f"{PATH}/{theirs}", headers=other.headers)).status_code == 200


async def test_scopes_are_enforced(client: httpx.AsyncClient, runtime: Runtime) -> None:
    reader = make_tenant(runtime, scopes=["privacy_requests:read"])
    writer = make_tenant(runtime, scopes=["privacy_requests:write"])

    denied = await client.post(PATH, json={"subjectEmail": "a@b.co"}, headers=reader.headers)
    error = assert_error_shape(denied, 403)
    assert "privacy_requests:write" in str(error["message"])
    made = await client.post(PATH, json={"subjectEmail": "a@b.co"}, headers=writer.headers)
    assert made.status_code == 200
    denied = await client.get(f"{PATH}/{made.json()['id']}", headers=writer.headers)
    assert "privacy_requests:read" in str(assert_error_shape(denied, 403)["message"])


async def test_processing_waits_for_the_configured_delay(
    client: httpx.AsyncClient,
    dev_headers: dict[str, str],
    runtime: Runtime,
    clock: FrozenClock,
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"privacy_delete_delay": 3600.0})
    made = (await client.post(PATH, json={"subjectEmail": "a@b.co"}, headers=dev_headers)).json()
    worker = runtime.worker()
    url = f"{PATH}/{made['id']}"

    clock.advance(timedelta(minutes=59))
    assert worker.run_until_idle() == 0
    assert (await client.get(url, headers=dev_headers)).json()["processed"] is False

    clock.advance(timedelta(minutes=1))
    assert worker.run_until_idle() == 1
    done = (await client.get(url, headers=dev_headers)).json()
    assert done["processed"] is True
    assert TIMESTAMP.fullmatch(done["processingStartDateTime"])
    assert done["processingEndDateTime"] >= done["processingStartDateTime"]
    assert done["processingStartDateTime"] > done["requestDateTime"]


async def test_processing_is_immediate_by_default(
    client: httpx.AsyncClient, dev_headers: dict[str, str], run_jobs: Callable[[], int]
) -> None:
    made = (await client.post(PATH, json={"subjectEmail": "a@b.co"}, headers=dev_headers)).json()

    assert run_jobs() == 1
    got = (await client.get(f"{PATH}/{made['id']}", headers=dev_headers)).json()
    assert got["processed"] is True and got["subjectEmail"] == "**@b.co"
