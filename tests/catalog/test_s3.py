"""The S3 backend against moto's server mode on 127.0.0.1: a real pre-signed PUT URL."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
import requests
from moto.server import ThreadedMotoServer
from sqlalchemy import func, select

from heedful.config import Settings
from heedful.jobs.worker import Worker
from heedful.runtime import Runtime
from heedful.storage.models.catalog import CatalogProduct
from tests.catalog.support import ndjson, product

BUCKET = "heedful-catalog"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MotoS3:
    """moto's S3 on a fixed port, which a test may take down and bring back (the objects and
    buckets live in moto's process-wide state, so they outlast a restart)."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server: ThreadedMotoServer | None = None

    def start(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


@pytest.fixture(scope="module")
def moto_s3() -> Iterator[MotoS3]:
    server = MotoS3()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def s3_endpoint(moto_s3: MotoS3) -> str:
    return moto_s3.endpoint


@pytest.fixture
def settings(settings: Settings, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "heedful-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "heedful-test-secret")
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    if BUCKET not in [b["Name"] for b in client.list_buckets()["Buckets"]]:
        client.create_bucket(Bucket=BUCKET)
    return settings.model_copy(
        update={
            "catalog_storage": "s3",
            "catalog_s3_bucket": BUCKET,
            "catalog_s3_endpoint_url": s3_endpoint,
            "catalog_s3_poll_interval": 1.0,
        }
    )


async def _start(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> Any:
    response = await client.post("/v1/product-catalog/uploads", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def _status(client: httpx.AsyncClient, headers: dict[str, str], upload_id: str) -> Any:
    return (await client.get(f"/v1/product-catalog/uploads/{upload_id}", headers=headers)).json()


async def test_a_presigned_put_is_picked_up_validated_and_ingested(
    client: httpx.AsyncClient,
    dev_headers: dict[str, str],
    worker: Worker,
    runtime: Runtime,
    s3_endpoint: str,
    tmp_path: Path,
) -> None:
    upload = await _start(client, dev_headers)
    assert upload["uploadUrl"].startswith(f"{s3_endpoint}/{BUCKET}/")
    assert "X-Amz-Signature=" in upload["uploadUrl"]

    worker.run_until_idle()  # nothing uploaded yet: the watcher looks and waits
    assert (await _status(client, dev_headers, upload["uploadId"]))["status"] == "initialized"

    path = tmp_path / "catalog.ndjson"
    path.write_bytes(ndjson([product(n) for n in range(1, 7)] + [b"not json"]))
    with path.open("rb") as handle:  # exactly what the vendor's docs show
        put = requests.put(upload["uploadUrl"], data=handle, timeout=10)
    assert put.status_code == 200

    runtime.clock.advance(timedelta(seconds=2))  # type: ignore[attr-defined]
    worker.run_until_idle()

    final = await _status(client, dev_headers, upload["uploadId"])
    assert final["status"] == "completed"
    assert (final["productsReceived"], final["productsProcessed"]) == (7, 6)
    assert [(e["errorType"], e["lineNum"]) for e in final["errors"]] == [("INVALID_JSON", 7)]
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(CatalogProduct)) == 6
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"catalog-uploads/{upload['uploadId']}")
    assert listed.get("KeyCount", 0) == 0  # the file is removed once processed


async def test_an_unused_s3_upload_stays_initialized_after_it_expires(
    client: httpx.AsyncClient, dev_headers: dict[str, str], worker: Worker, runtime: Runtime
) -> None:
    upload = await _start(client, dev_headers, validateOnly=True)

    runtime.clock.advance(timedelta(hours=1, seconds=1))  # type: ignore[attr-defined]
    worker.run_until_idle()
    # Past the expiry, the watcher still looks for a PUT that started in time, for an hour.
    runtime.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    assert worker.run_until_idle() == 1
    runtime.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]

    assert worker.run_until_idle() == 0  # the watcher gave up: nothing re-enqueued
    assert (await _status(client, dev_headers, upload["uploadId"]))["status"] == "initialized"


async def test_an_object_whose_put_outlasted_the_url_is_still_processed(
    client: httpx.AsyncClient, dev_headers: dict[str, str], worker: Worker, runtime: Runtime
) -> None:
    # S3 checks a pre-signed URL when the PUT starts: a big file sent just before the URL
    # expires lands after it, and its sender has S3's 200 in hand.
    upload = await _start(client, dev_headers)
    clock = runtime.clock
    clock.advance(timedelta(hours=1, seconds=-1))  # type: ignore[attr-defined]
    worker.run_until_idle()  # the PUT has started; nothing there yet
    clock.advance(timedelta(seconds=2))  # type: ignore[attr-defined]
    worker.run_until_idle()  # the URL has expired; the PUT is still streaming

    put = requests.put(upload["uploadUrl"], data=ndjson([product(1), product(2)]), timeout=10)
    assert put.status_code == 200
    clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    worker.run_until_idle()

    final = await _status(client, dev_headers, upload["uploadId"])
    assert (final["status"], final["productsProcessed"]) == ("completed", 2)


async def test_the_watcher_outlasts_an_s3_outage_longer_than_its_retry_schedule(
    client: httpx.AsyncClient,
    dev_headers: dict[str, str],
    worker: Worker,
    runtime: Runtime,
    moto_s3: MotoS3,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # S3 cannot be reached for longer than a job's 8 attempts with backoff last; the URL is
    # still valid, so a PUT may still come: the watcher must not die of it.
    upload = await _start(client, dev_headers)
    clock = runtime.clock
    moto_s3.stop()
    try:
        for _ in range(30):
            clock.advance(timedelta(seconds=60))  # type: ignore[attr-defined]
            worker.run_until_idle()
    finally:
        moto_s3.start()
    assert (await _status(client, dev_headers, upload["uploadId"]))["status"] == "initialized"
    assert "catalog storage unreachable; will look again" in caplog.messages

    put = requests.put(upload["uploadUrl"], data=ndjson([product(1), product(2)]), timeout=10)
    assert put.status_code == 200
    clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    worker.run_until_idle()

    final = await _status(client, dev_headers, upload["uploadId"])
    assert (final["status"], final["productsProcessed"]) == ("completed", 2)


async def test_the_local_put_route_refuses_s3_uploads(
    client: httpx.AsyncClient, dev_headers: dict[str, str]
) -> None:
    response = await client.put("/uploads/anything.1.abc", content=b"{}")

    assert response.status_code == 403


@pytest.mark.parametrize(("validate_only", "end"), [(False, "completed"), (True, "validated")])
async def test_an_object_over_the_size_limit_is_reported_not_processed(
    client: httpx.AsyncClient,
    dev_headers: dict[str, str],
    worker: Worker,
    runtime: Runtime,
    s3_endpoint: str,
    validate_only: bool,
    end: str,
) -> None:
    # A pre-signed PUT cannot cap the size (the local URL answers 413): the watcher must.
    data = ndjson([product(n) for n in range(1, 4)])
    runtime.settings = runtime.settings.model_copy(
        update={"catalog_max_upload_bytes": len(data) - 1}
    )
    upload = await _start(client, dev_headers, validateOnly=validate_only)
    assert requests.put(upload["uploadUrl"], data=data, timeout=10).status_code == 200

    runtime.clock.advance(timedelta(seconds=2))  # type: ignore[attr-defined]
    worker.run_until_idle()

    final = await _status(client, dev_headers, upload["uploadId"])
    assert final["status"] == end
    assert (final["productsReceived"], final["productsProcessed"]) == (0, 0)
    assert [(e["errorType"], e["lineNum"]) for e in final["errors"]] == [("FILE_TOO_LARGE", 0)]
    assert f"at most {len(data) - 1} bytes" in final["errors"][0]["errorMessage"]
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(CatalogProduct)) == 0
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"catalog-uploads/{upload['uploadId']}")
    assert listed.get("KeyCount", 0) == 0  # not kept, as the local URL's 413 keeps nothing
    assert worker.run_until_idle() == 0  # and nothing left to do


async def test_an_object_at_the_size_limit_is_processed(
    client: httpx.AsyncClient, dev_headers: dict[str, str], worker: Worker, runtime: Runtime
) -> None:
    data = ndjson([product(n) for n in range(1, 4)])
    runtime.settings = runtime.settings.model_copy(update={"catalog_max_upload_bytes": len(data)})
    upload = await _start(client, dev_headers)
    assert requests.put(upload["uploadUrl"], data=data, timeout=10).status_code == 200

    runtime.clock.advance(timedelta(seconds=2))  # type: ignore[attr-defined]
    worker.run_until_idle()

    final = await _status(client, dev_headers, upload["uploadId"])
    assert (final["status"], final["productsProcessed"], final["errors"]) == ("completed", 3, [])
