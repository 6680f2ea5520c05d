from __future__ import annotations

import gc
import sys

import httpx

from heedful.app import SWITCH_INTERVAL_SECONDS, create_app
from heedful.core.clock import FrozenClock
from heedful.jobs import queue
from heedful.runtime import Runtime
from heedful.storage.db import Database


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_the_database(client: httpx.AsyncClient, runtime: Runtime) -> None:
    response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": runtime.db.dialect}


async def test_readyz_is_503_when_the_database_is_unreachable(runtime: Runtime) -> None:
    unreachable = Database("postgresql://nobody@127.0.0.1:1/none")
    broken = Runtime(runtime.settings, unreachable, runtime.clock, runtime.jobs)
    transport = httpx.ASGITransport(
        app=create_app(broken.settings, broken), raise_app_exceptions=False
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.get("/readyz")

    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


async def test_metrics_count_requests_and_jobs(
    client: httpx.AsyncClient, runtime: Runtime, clock: FrozenClock, dev_headers: dict[str, str]
) -> None:
    await client.get("/v1/me", headers=dev_headers)
    await client.get("/v1/me")
    with runtime.db.transaction() as session:
        queue.enqueue(session, clock, "example.kind", {}, company_id=None)

    text = (await client.get("/metrics")).text

    assert 'heedful_http_requests_total{operation="getMe",status="200"} 1.0' in text
    assert 'heedful_http_requests_total{operation="getMe",status="401"} 1.0' in text
    assert 'heedful_http_request_duration_seconds_count{operation="getMe",status="200"} 1.0' in text
    assert 'heedful_jobs{state="queued"} 1.0' in text
    assert 'heedful_jobs{state="dead"} 0.0' in text


async def test_unmatched_paths_share_one_metric_label(client: httpx.AsyncClient) -> None:
    for n in range(3):
        await client.get(f"/nowhere/{n}")

    text = (await client.get("/metrics")).text

    assert 'heedful_http_requests_total{operation="unmatched",status="404"} 3.0' in text
    assert "/nowhere/" not in text


async def test_startup_hides_long_lived_objects_from_the_collector_and_shortens_gil_turns(
    runtime: Runtime,
) -> None:
    app = create_app(runtime.settings, runtime)
    starlette = app.app.app
    gc.unfreeze()
    interval = sys.getswitchinterval()
    try:
        async with starlette.router.lifespan_context(starlette):
            assert gc.get_freeze_count() > 10_000
            assert sys.getswitchinterval() == SWITCH_INTERVAL_SECONDS
    finally:
        gc.unfreeze()
        sys.setswitchinterval(interval)
