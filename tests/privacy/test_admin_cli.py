"""`heedful privacy list` and GET /admin/privacy/requests: requests, state, masked subjects."""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from heedful.cli.main import cli
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
