"""The three /v1 operations and the local upload URL, in-process over the ASGI app."""

from __future__ import annotations

import gzip
import json
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from heedful.catalog import repository
from heedful.catalog.validator import ErrorType
from heedful.core.clock import FrozenClock
from heedful.http.logs import JsonFormatter
from heedful.jobs.worker import Worker
from heedful.oauth.bootstrap import DevelopmentSetup
from heedful.runtime import Runtime
from heedful.storage.models.catalog import CatalogProduct, CatalogUpload, CatalogVariant
from tests.catalog.support import ndjson, product
from tests.factories import make_tenant
from tests.http.test_errors import assert_error_shape

UPLOADS = "/v1/product-catalog/uploads"


async def start(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> Any:
    response = await client.post(UPLOADS, json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def upload_path(upload: dict[str, Any]) -> str:
    url = httpx.URL(upload["uploadUrl"])
    assert url.path.startswith("/uploads/")
    return url.path


async def lookup(client: httpx.AsyncClient, headers: dict[str, str], upload_id: str) -> Any:
    response = await client.get(f"{UPLOADS}/{upload_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def count(runtime: Runtime, model: Any) -> int:
    with runtime.db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


async def test_start_upload_returns_an_initialized_upload_with_a_url_for_an_hour(
    client: httpx.AsyncClient, dev_headers: dict[str, str], clock: FrozenClock
) -> None:
    response = await client.post(UPLOADS, headers=dev_headers)

    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "initialized"
    assert body["validateOnly"] is False  # the schema's default, with no body at all
    assert (body["errors"], body["productsReceived"], body["productsProcessed"]) == ([], 0, 0)
    assert body["expires"] == (clock.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert body["uploadUrl"].startswith("http://testserver/uploads/")
    assert len(body["uploadId"]) == 36


async def test_validate_only_is_taken_from_the_body(
    client: httpx.AsyncClient, dev_headers: dict[str, str]
) -> None:
    assert (await start(client, dev_headers, validateOnly=True))["validateOnly"] is True


@pytest.mark.parametrize("body", [b'{"validateOnly": "yes"}', b"[]", b"{", b"null"])
async def test_a_bad_body_is_a_400_naming_the_problem(
    client: httpx.AsyncClient, dev_headers: dict[str, str], body: bytes
) -> None:
    response = await client.post(
        UPLOADS, content=body, headers={**dev_headers, "content-type": "application/json"}
    )

    assert_error_shape(response, 400)
    if body.startswith(b'{"'):
        assert "validateOnly" in response.json()["error"]["message"]


async def test_scopes_are_enforced(client: httpx.AsyncClient, runtime: Runtime) -> None:
    reader = make_tenant(runtime, scopes=["product_catalogs:read"])

    response = await client.post(UPLOADS, headers=reader.headers)

    assert_error_shape(response, 403)
    assert "product_catalogs:write" in response.json()["error"]["message"]
    assert (await client.get(UPLOADS, headers=reader.headers)).status_code == 200


async def test_list_is_in_creation_order_and_only_the_callers_company(
    client: httpx.AsyncClient, dev_headers: dict[str, str], runtime: Runtime
) -> None:
    first = await start(client, dev_headers)
    second = await start(client, dev_headers, validateOnly=True)
    other = make_tenant(runtime)
    theirs = await start(client, other.headers)

    listed = (await client.get(UPLOADS, headers=dev_headers)).json()

    assert [u["uploadId"] for u in listed] == [first["uploadId"], second["uploadId"]]
    missing = await client.get(f"{UPLOADS}/{theirs['uploadId']}", headers=dev_headers)
    assert_error_shape(missing, 404)
    assert_error_shape(await client.get(f"{UPLOADS}/nope", headers=dev_headers), 404)


async def test_the_whole_flow_validates_then_ingests_and_reports_errors(
    client: httpx.AsyncClient, dev_headers: dict[str, str], worker: Worker, runtime: Runtime
) -> None:
    upload = await start(client, dev_headers)
    lines = [product(n) for n in range(1, 10)]
    lines[4] = b'{"id": "broken",}'
    put = await client.put(upload_path(upload), content=ndjson(lines))
    assert put.status_code == 200

    assert (await lookup(client, dev_headers, upload["uploadId"]))["status"] == "validating"
    seen = []
    while worker.run_once():
        state = await lookup(client, dev_headers, upload["uploadId"])
        seen.append((state["status"], state["productsReceived"]))

    final = await lookup(client, dev_headers, upload["uploadId"])
    assert final["status"] == "completed"
    assert (final["productsReceived"], final["productsProcessed"]) == (9, 8)
    assert [(e["errorType"], e["lineNum"]) for e in final["errors"]] == [
        (ErrorType.INVALID_JSON, 5)
    ]
    # chunks of 4 lines: progress is visible while validating, then ingestion follows
    assert ("validating", 4) in seen and ("validating", 8) in seen
    assert ("validated", 9) in seen
    assert count(runtime, CatalogProduct) == 8
    assert count(runtime, CatalogVariant) == 24
    with runtime.db.transaction() as session:
        stored = session.scalars(select(CatalogUpload)).one()
        assert (stored.rejected_lines, stored.processed_by) == (None, None)  # state dropped
    assert not list(Path(runtime.settings.catalog_upload_dir).glob("*.ndjson"))


async def test_validate_only_stops_at_validated_and_saves_nothing(
    client: httpx.AsyncClient, dev_headers: dict[str, str], worker: Worker, runtime: Runtime
) -> None:
    upload = await start(client, dev_headers, validateOnly=True)
    await client.put(upload_path(upload), content=ndjson([product(1), product(2)]))

    worker.run_until_idle()

    final = await lookup(client, dev_headers, upload["uploadId"])
    assert (final["status"], final["productsProcessed"], final["errors"]) == ("validated", 2, [])
    assert count(runtime, CatalogProduct) == 0
    assert count(runtime, CatalogVariant) == 0


async def test_a_delta_upload_updates_products_by_id(
    client: httpx.AsyncClient,
    dev: DevelopmentSetup,
    dev_headers: dict[str, str],
    worker: Worker,
    runtime: Runtime,
) -> None:
    first = await start(client, dev_headers)
    await client.put(upload_path(first), content=ndjson([product(1), product(2)]))
    worker.run_until_idle()

    def renamed(data: dict[str, Any]) -> None:
        data["name"] = "Nasa T-Shirt v2"
        data["variants"][0]["inventoryQuantity"] = 3

    delta = await start(client, dev_headers)
    await client.put(upload_path(delta), content=ndjson([product(2, renamed), product(3)]))
    worker.run_until_idle()

    assert (await lookup(client, dev_headers, delta["uploadId"]))["status"] == "completed"
    assert count(runtime, CatalogProduct) == 3
    assert count(runtime, CatalogVariant) == 9
    with runtime.db.transaction() as session:
        stored = repository.product(session, dev.company.id, "PD-2")
        variants = repository.variants_of(session, dev.company.id, ["PD-2"])
    assert stored is not None and stored.name == "Nasa T-Shirt v2"
    assert [v.inventory_quantity for v in variants] == [3, None, None]


async def test_duplicate_ids_across_chunks_are_reported_and_not_ingested(
    client: httpx.AsyncClient, dev_headers: dict[str, str], worker: Worker, runtime: Runtime
) -> None:
    upload = await start(client, dev_headers)
    lines = [product(n) for n in range(1, 7)] + [product(2), product(8)]
    await client.put(upload_path(upload), content=ndjson(lines))

    worker.run_until_idle()

    final = await lookup(client, dev_headers, upload["uploadId"])
    assert [(e["errorType"], e["lineNum"]) for e in final["errors"]] == [
        (ErrorType.DUPLICATE_ID, 7)
    ]
    assert "line 2" in final["errors"][0]["errorMessage"]
    assert final["productsProcessed"] == 7
    assert count(runtime, CatalogProduct) == 7


async def test_a_crash_mid_ingest_retries_the_chunk_without_duplicating(
    client: httpx.AsyncClient,
    dev_headers: dict[str, str],
    worker: Worker,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    upload = await start(client, dev_headers)
    await client.put(upload_path(upload), content=ndjson([product(n) for n in range(1, 10)]))
    real = repository.upsert_variants
    calls = {"n": 0}

    def crash_once(session: Any, rows: list[dict[str, Any]]) -> None:
        calls["n"] += 1
        real(session, rows)
        if calls["n"] == 2:
            raise RuntimeError("worker died")

    monkeypatch.setattr(repository, "upsert_variants", crash_once)
    for _ in range(50):
        worker.run_once()
        runtime.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]

    final = await lookup(client, dev_headers, upload["uploadId"])
    assert final["status"] == "completed"
    assert calls["n"] == 4  # three chunks, the second one twice
    assert count(runtime, CatalogProduct) == 9
    assert count(runtime, CatalogVariant) == 27


@pytest.mark.parametrize(("validate_only", "status"), [(False, "completed"), (True, "validated")])
async def test_an_upload_whose_file_is_gone_ends_with_the_reason_instead_of_validating_for_ever(
    client: httpx.AsyncClient,
    dev_headers: dict[str, str],
    worker: Worker,
    runtime: Runtime,
    validate_only: bool,
    status: str,
) -> None:
    upload = await start(client, dev_headers, validateOnly=validate_only)
    await client.put(upload_path(upload), content=ndjson([product(1)]))
    stored = Path(runtime.settings.catalog_upload_dir) / f"{upload['uploadId']}.ndjson"
    stored.unlink()  # lost from storage before any chunk ran

    for _ in range(10):  # every attempt fails (3 here), then the upload is told
        worker.run_once()
        runtime.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]

    final = await lookup(client, dev_headers, upload["uploadId"])
    assert final["status"] == status
    assert [(e["errorType"], e["lineNum"]) for e in final["errors"]] == [
        (ErrorType.PROCESSING_FAILED, 0)
    ]
    assert "no longer in storage" in final["errors"][0]["errorMessage"]
    assert str(stored) not in final["errors"][0]["errorMessage"]  # no server paths shown
    assert count(runtime, CatalogProduct) == 0


async def test_an_expired_or_tampered_url_is_refused(
    client: httpx.AsyncClient, dev_headers: dict[str, str], clock: FrozenClock
) -> None:
    upload = await start(client, dev_headers)
    path = upload_path(upload)
    tampered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")

    assert_error_shape(await client.put(tampered, content=ndjson([product(1)])), 403)
    other_id = path.replace(upload["uploadId"], "00000000-0000-4000-8000-000000000000")
    assert_error_shape(await client.put(other_id, content=b"{}"), 403)

    clock.advance(timedelta(hours=1, seconds=1))
    expired = await client.put(path, content=ndjson([product(1)]))
    assert_error_shape(expired, 403)
    assert "expired" in expired.json()["error"]["message"]


async def test_the_request_log_never_holds_the_upload_urls_signed_token(
    client: httpx.AsyncClient, dev_headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """The token is the credential for the company's catalog: a refused PUT (too big, cut off)
    or a stray GET leaves it valid for up to an hour, so the access log must not carry it."""
    upload = await start(client, dev_headers)
    path = upload_path(upload)
    token = path.rsplit("/", 1)[1]
    caplog.set_level(logging.DEBUG, logger="heedful")

    assert (await client.get(path)).status_code == 405
    assert (await client.put(path[:-1], content=b"{}")).status_code == 403

    records = [r for r in caplog.records if r.name.startswith("heedful")]
    lines = [JsonFormatter().format(record) for record in records]
    # The request log's lines (other loggers may have a say at DEBUG meanwhile).
    requests = [
        json.loads(line) for r, line in zip(records, lines, strict=True) if r.name == "heedful.http"
    ]
    assert [request["path"] for request in requests] == ["/uploads/{token}"] * 2
    assert [line for line in lines if token[-20:] in line] == []


async def test_a_second_put_after_processing_started_is_a_conflict(
    client: httpx.AsyncClient, dev_headers: dict[str, str], runtime: Runtime
) -> None:
    upload = await start(client, dev_headers)
    assert (await client.put(upload_path(upload), content=ndjson([product(1)]))).status_code == 200

    again = await client.put(upload_path(upload), content=ndjson([product(2)]))

    assert_error_shape(again, 409)
    stored = Path(runtime.settings.catalog_upload_dir) / f"{upload['uploadId']}.ndjson"
    assert stored.read_bytes() == ndjson([product(1)])
    assert [p.name for p in stored.parent.iterdir() if p.suffix == ".part"] == []


async def test_a_file_over_the_limit_is_a_413_and_leaves_nothing(
    client: httpx.AsyncClient, dev_headers: dict[str, str], runtime: Runtime
) -> None:
    small = runtime.settings.model_copy(update={"catalog_max_upload_bytes": 1000})
    runtime.settings = small
    upload = await start(client, dev_headers)

    async def body() -> Any:
        for _ in range(20):
            yield b"x" * 100

    too_big = await client.put(upload_path(upload), content=body())

    assert_error_shape(too_big, 413)
    assert (await lookup(client, dev_headers, upload["uploadId"]))["status"] == "initialized"
    assert list(Path(small.catalog_upload_dir).glob("*.ndjson")) == []
    assert list(Path(small.catalog_upload_dir).glob(".*.part")) == []
    declared = await client.put(
        upload_path(upload), content=b"x" * 1001, headers={"content-length": "1001"}
    )
    assert_error_shape(declared, 413)


async def test_uploads_survive_a_restart_because_the_signing_secret_is_persisted(
    client: httpx.AsyncClient, dev_headers: dict[str, str], runtime: Runtime
) -> None:
    from heedful.catalog.files import signing_secret

    upload = await start(client, dev_headers)

    secret = (Path(runtime.settings.catalog_upload_dir) / ".signing-secret").read_bytes()
    assert signing_secret(runtime.settings) == secret.strip()
    assert len(secret) >= 32
    assert (await client.put(upload_path(upload), content=ndjson([product(1)]))).status_code == 200


async def test_admin_lists_and_shows_a_companys_products(
    client: httpx.AsyncClient,
    dev: DevelopmentSetup,
    dev_headers: dict[str, str],
    worker: Worker,
    runtime: Runtime,
) -> None:
    from heedful.core import ids
    from tests.conftest import ADMIN_TOKEN

    upload = await start(client, dev_headers)
    await client.put(upload_path(upload), content=ndjson([product(n) for n in range(1, 6)]))
    worker.run_until_idle()
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    company = ids.COMPANY.encode(dev.company.id)

    first = await client.get(f"/admin/catalog/products?company={company}&limit=3", headers=admin)
    cursor = first.json()["nextCursor"]
    rest = await client.get(
        f"/admin/catalog/products?company={company}&limit=3&cursor={cursor}", headers=admin
    )
    one = await client.get(f"/admin/catalog/products/PD-4?company={company}", headers=admin)

    assert [p["id"] for p in first.json()["products"]] == ["PD-1", "PD-2", "PD-3"]
    assert [p["id"] for p in rest.json()["products"]] == ["PD-4", "PD-5"]
    assert rest.json()["nextCursor"] is None
    assert [v["id"] for v in one.json()["variants"]] == ["VD-234-4", "VD-235-4", "VD-236-4"]
    other = ids.COMPANY.encode(make_tenant(runtime).company.id)
    assert_error_shape(
        await client.get(f"/admin/catalog/products/PD-4?company={other}", headers=admin), 404
    )
    assert_error_shape(await client.get("/admin/catalog/products", headers=admin), 400)
    assert_error_shape(
        await client.get(f"/admin/catalog/products?company={company}&cursor=zz", headers=admin),
        400,
    )
    assert_error_shape(await client.get(f"/admin/catalog/products?company={company}"), 401)


@pytest.mark.parametrize(
    "query",
    [
        "limit=%C2%B2",  # "²": str.isdigit() says yes, int() says no
        "cursor=cDrCsg",  # "p:²"
        "cursor=cDo5OTk5OTk5OTk5OTk5OTk5OTk5OTk5",  # "p:" and 22 nines: past a 64-bit id
    ],
)
async def test_admin_a_malformed_limit_or_cursor_is_a_400_not_a_500(
    client: httpx.AsyncClient, dev: DevelopmentSetup, query: str
) -> None:
    from heedful.core import ids
    from tests.conftest import ADMIN_TOKEN

    company = ids.COMPANY.encode(dev.company.id)
    response = await client.get(
        f"/admin/catalog/products?company={company}&{query}",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )

    assert_error_shape(response, 400)


async def test_admin_products_of_a_company_that_does_not_exist_is_a_404_not_an_empty_page(
    client: httpx.AsyncClient, dev: DevelopmentSetup
) -> None:
    from heedful.core import ids
    from tests.conftest import ADMIN_TOKEN

    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    missing = ids.COMPANY.encode(dev.company.id + 1000)

    # A mistyped company read as an empty catalog, unlike the product and the other lookups.
    unknown = await client.get(f"/admin/catalog/products?company={missing}", headers=admin)
    malformed = await client.get("/admin/catalog/products?company=zz", headers=admin)

    assert_error_shape(unknown, 404)
    assert f"No company '{missing}'" in unknown.json()["error"]["message"]
    assert_error_shape(malformed, 400)
    assert "`company`" in malformed.json()["error"]["message"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("position", 2**31), ("inventoryQuantity", 2**63), ("inventoryQuantity", -(2**63) - 1)],
)
async def test_a_number_too_big_for_its_column_is_rejected_not_left_to_fail_ingestion(
    client: httpx.AsyncClient,
    dev_headers: dict[str, str],
    worker: Worker,
    runtime: Runtime,
    field: str,
    value: int,
) -> None:
    def huge(data: dict[str, Any]) -> None:
        data["variants"][0][field] = value

    upload = await start(client, dev_headers)
    await client.put(upload_path(upload), content=ndjson([product(1), product(2, huge)]))

    worker.run_until_idle()

    final = await lookup(client, dev_headers, upload["uploadId"])
    assert final["status"] == "completed"
    assert [(e["errorType"], e["lineNum"]) for e in final["errors"]] == [
        (ErrorType.VALUE_OUT_OF_RANGE, 2)
    ]
    assert count(runtime, CatalogProduct) == 1


@pytest.mark.parametrize(
    "stamp",
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"],  # e.g. .NET's MinValue
)
async def test_a_timestamp_at_the_edge_of_the_calendar_is_saved_and_shown(
    client: httpx.AsyncClient,
    dev: DevelopmentSetup,
    dev_headers: dict[str, str],
    worker: Worker,
    stamp: str,
) -> None:
    from heedful.core import ids
    from tests.conftest import ADMIN_TOKEN

    def edge(data: dict[str, Any]) -> None:
        data["lastUpdated"] = stamp

    upload = await start(client, dev_headers)
    await client.put(upload_path(upload), content=ndjson([product(1, edge)]))

    worker.run_until_idle()

    final = await lookup(client, dev_headers, upload["uploadId"])
    assert (final["status"], final["errors"]) == ("completed", [])
    company = ids.COMPANY.encode(dev.company.id)
    shown = await client.get(
        f"/admin/catalog/products/PD-1?company={company}",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert shown.status_code == 200, shown.text
    assert shown.json()["lastUpdated"] == stamp


async def test_a_nul_character_in_a_string_is_reported_on_every_database(
    client: httpx.AsyncClient, dev_headers: dict[str, str], worker: Worker, runtime: Runtime
) -> None:
    def nul(data: dict[str, Any]) -> None:
        data["variants"][1]["name"] = "Blue\x00Small"  # PostgreSQL text cannot hold U+0000

    def escaped(data: dict[str, Any]) -> None:
        data["description"] = "a backslash then u0000: \\u0000"  # no NUL: fine

    upload = await start(client, dev_headers)
    lines = [product(1), product(2, nul), product(3, escaped)]
    await client.put(upload_path(upload), content=ndjson(lines))

    worker.run_until_idle()

    final = await lookup(client, dev_headers, upload["uploadId"])
    assert final["status"] == "completed"
    assert [(e["errorType"], e["lineNum"]) for e in final["errors"]] == [
        (ErrorType.INVALID_ENCODING, 2)
    ]
    assert "variants[1].name" in final["errors"][0]["errorMessage"]
    assert count(runtime, CatalogProduct) == 2


async def test_more_uploads_validating_at_once_than_states_kept_all_finish(
    client: httpx.AsyncClient, dev_headers: dict[str, str], worker: Worker, clock: FrozenClock
) -> None:
    from heedful.catalog.service import _MAX_VALIDATIONS

    uploads = [await start(client, dev_headers) for _ in range(_MAX_VALIDATIONS + 1)]
    for number, upload in enumerate(uploads):
        lines = [product(number * 100 + n) for n in range(1, 10)]  # three chunks of 4
        await client.put(upload_path(upload), content=ndjson(lines))

    for _ in range(20):  # one upload waits for a slot: its chunk is retried a second later
        worker.run_until_idle(max_batches=50)
        clock.advance(timedelta(seconds=1))

    finals = [await lookup(client, dev_headers, upload["uploadId"]) for upload in uploads]
    assert [(f["status"], f["productsProcessed"]) for f in finals] == [("completed", 9)] * len(
        uploads
    )


async def test_admin_shows_variants_by_position_with_unpositioned_ones_last(
    client: httpx.AsyncClient,
    dev: DevelopmentSetup,
    dev_headers: dict[str, str],
    worker: Worker,
) -> None:
    """NULLs sort first on SQLite and last on PostgreSQL: the order must not depend on it."""
    from heedful.core import ids
    from tests.conftest import ADMIN_TOKEN

    def positions(data: dict[str, Any]) -> None:
        for variant, position in zip(data["variants"], [None, 1, 0], strict=True):
            variant.pop("position", None)
            if position is not None:
                variant["position"] = position

    upload = await start(client, dev_headers)
    await client.put(upload_path(upload), content=ndjson([product(1, positions)]))
    worker.run_until_idle()
    company = ids.COMPANY.encode(dev.company.id)

    one = await client.get(
        f"/admin/catalog/products/PD-1?company={company}",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )

    assert [v["id"] for v in one.json()["variants"]] == ["VD-236-1", "VD-235-1", "VD-234-1"]


async def test_admin_shows_an_images_explicit_position_and_fields_sent_as_null_are_absent(
    client: httpx.AsyncClient,
    dev: DevelopmentSetup,
    dev_headers: dict[str, str],
    worker: Worker,
) -> None:
    from heedful.core import ids
    from tests.conftest import ADMIN_TOKEN

    def null_position(data: dict[str, Any]) -> None:
        data["images"][1]["position"] = None

    upload = await start(client, dev_headers)
    await client.put(upload_path(upload), content=ndjson([product(1, null_position)]))
    worker.run_until_idle()
    final = await lookup(client, dev_headers, upload["uploadId"])
    company = ids.COMPANY.encode(dev.company.id)

    shown = await client.get(
        f"/admin/catalog/products/PD-1?company={company}",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )

    assert (final["status"], final["errors"]) == ("completed", [])
    images = shown.json()["images"]
    assert images[0]["position"] == 0  # the spec's example says 0: shown, not dropped
    assert "position" not in images[1]


async def test_a_coded_catalog_file_is_415_and_not_stored(
    client: httpx.AsyncClient, dev_headers: dict[str, str], runtime: Runtime
) -> None:
    upload = await start(client, dev_headers)

    put = await client.put(
        upload_path(upload),
        content=gzip.compress(ndjson([product(1)])),
        headers={"Content-Encoding": "gzip"},
    )

    assert "gzip" in str(assert_error_shape(put, 415)["message"])
    status = await client.get(f"{UPLOADS}/{upload['uploadId']}", headers=dev_headers)
    assert status.json()["status"] == "initialized"
