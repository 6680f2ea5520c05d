"""`heedful privacy list` and GET /admin/privacy/requests: requests, state, masked subjects."""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from heedful.cli.main import cli
from heedful.core.clock import FrozenClock
from heedful.privacy import erasure
from heedful.runtime import Runtime
from heedful.storage.db import Database
from tests.conftest import ADMIN_TOKEN
from tests.privacy.conftest import PATH

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def two_requests(
    client: httpx.AsyncClient, headers: dict[str, str], run_jobs: Callable[[], int]
) -> None:
    body = {"subjectPhone": "+13115552368", "subjectEmail": "abc@website.com"}
    assert (await client.post(PATH, json=body, headers=headers)).status_code == 200
    run_jobs()
    other = {"subjectEmail": "pending@website.com"}
    assert (await client.post(PATH + "?x=1", json=other, headers=headers)).status_code == 200


async def test_admin_lists_requests_with_state_and_finds_them_by_hash(
    client: httpx.AsyncClient,
    dev_headers: dict[str, str],
    run_jobs: Callable[[], int],
) -> None:
    # The second request is made after the worker ran, so it is still pending.
    await two_requests(client, dev_headers, run_jobs)

    listed = (await client.get("/admin/privacy/requests", headers=ADMIN)).json()["requests"]
    assert [r["state"] for r in listed] == ["pending", "processed"]
    assert listed[1]["subjectPhone"] == "+*****2368"
    assert listed[1]["outcome"] == {"users": 0, "deleted": {}, "scrubbed": {}}
    assert "pending@website.com" not in json.dumps(listed)

    found = await client.get(
        "/admin/privacy/requests", params={"phone": "(311) 555-2368"}, headers=ADMIN
    )
    assert [r["id"] for r in found.json()["requests"]] == [listed[1]["id"]]
    pending = await client.get("/admin/privacy/requests?state=pending", headers=ADMIN)
    assert [r["id"] for r in pending.json()["requests"]] == [listed[0]["id"]]
    for query in ("state=done", "limit=0", "company=nope", "phone=12"):
        bad = await client.get(f"/admin/privacy/requests?{query}", headers=ADMIN)
        assert bad.status_code == 400, query
    assert (await client.get("/admin/privacy/requests")).status_code == 401
    coverage = (await client.get("/admin/privacy/coverage", headers=ADMIN)).json()
    assert coverage["uncovered"] == [] and "users" in coverage["tables"]


async def test_admin_requests_of_a_company_that_does_not_exist_is_a_404_not_an_empty_list(
    client: httpx.AsyncClient, dev_headers: dict[str, str], run_jobs: Callable[[], int]
) -> None:
    from heedful.core import ids

    await two_requests(client, dev_headers, run_jobs)
    missing = ids.COMPANY.encode(1000)

    # A mistyped company read as "no requests", unlike the other admin lookups.
    found = await client.get(f"/admin/privacy/requests?company={missing}", headers=ADMIN)

    assert found.status_code == 404, found.text
    assert found.json()["error"]["message"] == f"No company '{missing}'"


Heedful = Callable[[str], Result]


@pytest.fixture
def heedful(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db: Database, database_url: str
) -> Heedful:
    """`heedful(...)` in-process on the test database, with no HEEDFUL_* from the caller."""
    monkeypatch.chdir(tmp_path)
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("HEEDFUL_")}
    runner = CliRunner(env={**env, "COLUMNS": "200"})

    def invoke(command: str) -> Result:
        return runner.invoke(cli, [*shlex.split(command), "--database-url", database_url])

    return invoke


async def test_cli_lists_requests(
    client: httpx.AsyncClient,
    dev_headers: dict[str, str],
    run_jobs: Callable[[], int],
    heedful: Heedful,
) -> None:
    await two_requests(client, dev_headers, run_jobs)

    table = heedful("privacy list")
    assert table.exit_code == 0, table.output
    assert "processed" in table.stdout and "pending" in table.stdout
    assert "+*****2368" in table.stdout and "abc@website.com" not in table.stdout

    as_json = json.loads(heedful("privacy list --json --state processed").stdout)
    assert [r["subjectEmail"] for r in as_json] == ["a**@website.com"]
    by_email = json.loads(heedful("privacy list --json --email ABC@website.com").stdout)
    assert len(by_email) == 1
    assert heedful("privacy list --state nope").exit_code != 0
    assert json.loads(heedful("privacy list --json --email zz@website.com").stdout) == []


@pytest.fixture
def erasure_refuses(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Makes erasure fail for real (a table no scrubber covers, as in test_scrubbers); the
    returned function removes the cause."""
    monkeypatch.setitem(erasure.NO_SUBJECT_DATA, "nothing", "")
    monkeypatch.delitem(erasure.NO_SUBJECT_DATA, "webhooks")
    return monkeypatch.undo


async def dead_delete_request(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    runtime: Runtime,
    clock: FrozenClock,
) -> str:
    """A delete request whose job used every attempt (the worker's 8) and is dead."""
    body = {"subjectPhone": "+13115552368"}
    posted = await client.post(PATH, json=body, headers=headers)
    assert posted.status_code == 200, posted.text
    worker = runtime.worker()
    for _ in range(runtime.settings.job_max_attempts):
        worker.run_until_idle()
        clock.advance(timedelta(seconds=runtime.settings.job_backoff_cap))
    return str(posted.json()["id"])


REFUSED = (
    "ErasureRefused: tables not covered by privacy deletion: webhooks (see heedful.privacy.erasure)"
)


async def test_a_dead_delete_job_shows_the_request_failed_and_a_retry_processes_it(
    client: httpx.AsyncClient,
    dev_headers: dict[str, str],
    runtime: Runtime,
    clock: FrozenClock,
    run_jobs: Callable[[], int],
    erasure_refuses: Callable[[], None],
) -> None:
    request_id = await dead_delete_request(client, dev_headers, runtime, clock)

    listed = (await client.get("/admin/privacy/requests", headers=ADMIN)).json()["requests"]
    (failed,) = listed
    assert (failed["id"], failed["state"], failed["processed"]) == (request_id, "failed", False)
    assert failed["lastError"] == REFUSED
    dead = (await client.get("/admin/jobs?state=dead&kind=privacy.delete", headers=ADMIN)).json()
    assert [job["id"] for job in dead["jobs"]] == [failed["failedJobId"]]
    assert dead["jobs"][0]["attempts"] == dead["jobs"][0]["maxAttempts"] == 8
    by_state = "/admin/privacy/requests?state="
    assert len((await client.get(by_state + "failed", headers=ADMIN)).json()["requests"]) == 1
    assert (await client.get(by_state + "pending", headers=ADMIN)).json()["requests"] == []
    # The vendor's view is the spec's DTO, unchanged: only `processed: false`.
    public = (await client.get(f"{PATH}/{request_id}", headers=dev_headers)).json()
    assert set(public) == {"id", "processed", "type", "requestDateTime", "subjectPhone"}

    erasure_refuses()  # the operator fixes the cause ...
    job_path = f"/admin/jobs/{failed['failedJobId']}/retry"
    assert (await client.post(job_path)).status_code == 401
    retried = await client.post(job_path, headers=ADMIN)  # ... and retries the job
    assert retried.status_code == 202, retried.text
    assert retried.json()["job"]["state"] == "queued"
    pending = (await client.get(by_state + "pending", headers=ADMIN)).json()["requests"]
    assert [r["id"] for r in pending] == [request_id] and pending[0]["lastError"] is None

    assert run_jobs() == 1
    done = (await client.get("/admin/privacy/requests", headers=ADMIN)).json()["requests"]
    assert done[0]["state"] == "processed" and done[0]["failedJobId"] is None
    assert (await client.get(f"{PATH}/{request_id}", headers=dev_headers)).json()["processed"]
    again = await client.post(job_path, headers=ADMIN)
    assert again.status_code == 409, again.text
    assert again.json()["error"]["message"].endswith(
        "is done, not dead: only a dead job can be retried"
    )


async def test_cli_shows_a_failed_request_and_retries_its_job(
    client: httpx.AsyncClient,
    dev_headers: dict[str, str],
    runtime: Runtime,
    clock: FrozenClock,
    run_jobs: Callable[[], int],
    erasure_refuses: Callable[[], None],
    heedful: Heedful,
) -> None:
    request_id = await dead_delete_request(client, dev_headers, runtime, clock)
    (job,) = json.loads(heedful("jobs list --json --state dead").stdout)

    table = heedful("privacy list")
    assert table.exit_code == 0, table.output
    assert "failed" in table.stdout
    assert f"{request_id}: delete job {job['id']} is dead: {REFUSED}" in table.stdout
    assert f"heedful jobs retry {job['id']}" in table.stdout
    as_json = json.loads(heedful("privacy list --json --state failed").stdout)
    assert [(r["id"], r["failedJobId"]) for r in as_json] == [(request_id, job["id"])]

    erasure_refuses()
    retried = heedful(f"jobs retry {job['id']}")
    assert retried.exit_code == 0, retried.output
    assert f"Job {job['id']} (privacy.delete) queued again" in retried.stdout
    assert run_jobs() == 1
    assert json.loads(heedful("privacy list --json").stdout)[0]["state"] == "processed"
