"""A real `heedful serve` killed with SIGKILL while it ingests a catalog, then restarted: the
upload completes, and every product is there exactly once.

Runs on the test database (SQLite file, or PostgreSQL with HEEDFUL_TEST_DATABASE_URL), with
small chunks (so the kill lands between or inside chunk transactions) and a one-second job
lease (so the restarted server takes the killed one's claimed chunk back at once).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from heedful.storage.db import Database
from heedful.storage.models.catalog import CatalogProduct, CatalogUpload, CatalogVariant
from tests.catalog.support import ndjson, product
from tests.events.test_durability import serving

PRODUCTS = 3000
CRASH_SETTINGS = {"HEEDFUL_CATALOG_CHUNK_LINES": "25", "HEEDFUL_JOB_LEASE_SECONDS": "1"}


def products_saved(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(CatalogProduct)) or 0)


def upload_status(base_url: str, headers: dict[str, str], upload_id: str) -> Any:
    response = httpx.get(f"{base_url}/v1/product-catalog/uploads/{upload_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


async def test_a_server_killed_mid_ingest_completes_the_upload_once_restarted(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    token = "hdf_" + secrets.token_urlsafe(32)
    headers = {"Authorization": f"Bearer {token}"}
    body = ndjson([product(n) for n in range(1, PRODUCTS + 1)])

    with serving(database_url, token, tmp_path, **CRASH_SETTINGS) as (base_url, server):
        started = httpx.post(f"{base_url}/v1/product-catalog/uploads", json={}, headers=headers)
        upload_id = started.json()["uploadId"]
        assert httpx.put(started.json()["uploadUrl"], content=body, timeout=30).status_code == 200
        wait_until(lambda: products_saved(db) > 0, 15, "ingestion to start")
        os.killpg(server.pid, signal.SIGKILL)
        await asyncio.to_thread(server.wait, 30)

    saved_at_kill = products_saved(db)
    assert 0 < saved_at_kill < PRODUCTS, "the kill did not land mid-ingest"
    with serving(database_url, token, tmp_path, **CRASH_SETTINGS) as (base_url, _):
        wait_until(
            lambda: upload_status(base_url, headers, upload_id)["status"] == "completed",
            15,
            "the upload to complete after the restart",
        )
        final = upload_status(base_url, headers, upload_id)

    assert final["errors"] == []
    assert (final["productsReceived"], final["productsProcessed"]) == (PRODUCTS, PRODUCTS)
    with db.read() as session:
        variants = session.scalar(select(func.count()).select_from(CatalogVariant))
        upload = session.scalars(select(CatalogUpload)).one()
    assert (products_saved(db), variants) == (PRODUCTS, 3 * PRODUCTS)
    assert upload.products_saved == PRODUCTS  # the interrupted chunk counted once
