"""`heedful jobs list` and `heedful jobs retry`."""

from __future__ import annotations

import json

from heedful.core import ids
from heedful.jobs import queue
from heedful.runtime import Runtime
from tests.cli.conftest import Heedful
from tests.factories import make_company


def two_jobs(runtime: Runtime) -> tuple[int, int, int]:
    company = make_company(runtime, name="Jobs Shop")
    with runtime.db.transaction() as session:
        queued = queue.enqueue(session, runtime.clock, "a.one", {}, company_id=company.id)
        dead = queue.enqueue(session, runtime.clock, "b.two", {}, company_id=None)
        dead.state, dead.attempts = queue.DEAD, 8
        dead.last_error = "Broken: " + "x" * 200
        return queued.id, dead.id, company.id


def test_lists_jobs_as_a_table_and_as_json(heedful: Heedful, runtime: Runtime) -> None:
    queued, dead, company_id = two_jobs(runtime)

    table = heedful("jobs list", env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "b.two" in table.stdout and "dead" in table.stdout and "8/8" in table.stdout
    assert "Broken: xxx" in table.stdout and "x" * 100 not in table.stdout  # cut short

    as_json = json.loads(heedful("jobs list --json").stdout)
    assert [job["id"] for job in as_json] == [dead, queued]
    assert as_json[0]["lastError"] == "Broken: " + "x" * 200  # all of it
    dead_only = json.loads(heedful("jobs list --json --state dead").stdout)
    assert [job["id"] for job in dead_only] == [dead]
    by_company = json.loads(heedful("jobs list --json --company 'Jobs Shop'").stdout)
    assert [job["companyId"] for job in by_company] == [ids.COMPANY.encode(company_id)]
    assert json.loads(heedful("jobs list --json --kind none --limit 1").stdout) == []
    assert heedful("jobs list --kind none").stdout.strip() == "No jobs."


def test_list_refuses_bad_options(heedful: Heedful) -> None:
    bad_state = heedful("jobs list --state failed")
    assert bad_state.exit_code == 2 and "--state" in bad_state.output
    assert heedful("jobs list --limit 0").exit_code == 2
    unknown = heedful("jobs list --company Nobody")
    assert unknown.exit_code == 1 and "No company 'Nobody'" in unknown.output


def test_retry_requeues_a_dead_job_and_reports_refusals(heedful: Heedful, runtime: Runtime) -> None:
    queued, dead, _ = two_jobs(runtime)

    retried = heedful(f"jobs retry {dead}")
    assert retried.exit_code == 0, retried.output
    assert retried.stdout.strip() == f"Job {dead} (b.two) queued again; a worker runs it now."
    assert json.loads(heedful("jobs list --json --state dead").stdout) == []

    refused = heedful(f"jobs retry {queued}")
    assert refused.exit_code == 1
    assert f"Job {queued} is queued, not dead" in refused.output
    unknown = heedful("jobs retry 999999")
    assert unknown.exit_code == 1 and "No job 999999" in unknown.output
    assert heedful("jobs retry abc").exit_code == 2
