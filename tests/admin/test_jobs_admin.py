"""GET /admin/jobs and POST /admin/jobs/{id}/retry: the guard, filters, refusals."""

from __future__ import annotations

import httpx
import pytest

from heedful.core import ids
from heedful.jobs import queue
from heedful.runtime import Runtime
from heedful.storage.models import Job
from tests.conftest import ADMIN_TOKEN
from tests.factories import make_company
from tests.http.test_errors import assert_error_shape

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def two_jobs(runtime: Runtime) -> tuple[int, int, str]:
    """A queued job of a company, and a dead one of no company; and the company's id."""
    company = make_company(runtime)
    with runtime.db.transaction() as session:
        queued = queue.enqueue(session, runtime.clock, "a.one", {}, company_id=company.id)
        dead = queue.enqueue(session, runtime.clock, "b.two", {}, company_id=None)
        dead.state, dead.attempts, dead.last_error = queue.DEAD, 8, "Broken: down"
        return queued.id, dead.id, ids.COMPANY.encode(company.id)


async def test_lists_jobs_with_filters(client: httpx.AsyncClient, runtime: Runtime) -> None:
    queued, dead, company = two_jobs(runtime)

    listed = (await client.get("/admin/jobs", headers=ADMIN)).json()["jobs"]
    assert [job["id"] for job in listed] == [dead, queued]
    assert listed[0]["lastError"] == "Broken: down" and listed[0]["companyId"] is None
    assert set(listed[0]) == {
        "id", "kind", "state", "companyId", "attempts", "maxAttempts",
        "runAt", "createdAt", "finishedAt", "lastError",
    }  # fmt: skip
    for query, wanted in (
        ("state=dead", [dead]),
        ("kind=a.one", [queued]),
        (f"company={company}", [queued]),
        ("state=queued&kind=b.two", []),
        ("limit=1", [dead]),
    ):
        found = (await client.get(f"/admin/jobs?{query}", headers=ADMIN)).json()["jobs"]
        assert [job["id"] for job in found] == wanted, query


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("state=failed", "`state`"),
        ("limit=0", "`limit`"),
        ("limit=x", "`limit`"),
        ("limit=501", "`limit`"),
        ("company=nope", "`company`"),
        ("kind=" + "k" * 129, "`kind`"),
        ("kind=", "`kind`"),
    ],
)
async def test_bad_query_values_are_400_naming_the_parameter(
    client: httpx.AsyncClient, query: str, named: str
) -> None:
    response = await client.get(f"/admin/jobs?{query}", headers=ADMIN)

    assert_error_shape(response, 400)
    assert named in response.json()["error"]["message"]


async def test_an_unknown_company_is_404(client: httpx.AsyncClient) -> None:
    missing = ids.COMPANY.encode(4242)

    response = await client.get(f"/admin/jobs?company={missing}", headers=ADMIN)

    assert_error_shape(response, 404)
    assert response.json()["error"]["message"] == f"No company '{missing}'"


async def test_retry_requeues_a_dead_job_and_refuses_the_rest(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    queued, dead, _ = two_jobs(runtime)

    retried = await client.post(f"/admin/jobs/{dead}/retry", headers=ADMIN)
    assert retried.status_code == 202, retried.text
    job = retried.json()["job"]
    assert (job["state"], job["attempts"], job["lastError"]) == ("queued", 0, "Broken: down")
    with runtime.db.read() as session:
        row = session.get(Job, dead)
        assert row is not None and row.run_at == runtime.clock.now()

    not_dead = await client.post(f"/admin/jobs/{queued}/retry", headers=ADMIN)
    assert_error_shape(not_dead, 409)
    assert not_dead.json()["error"]["message"] == (
        f"Job {queued} is queued, not dead: only a dead job can be retried"
    )
    for missing in ("999999", "abc", "1" * 40):
        unknown = await client.post(f"/admin/jobs/{missing}/retry", headers=ADMIN)
        assert_error_shape(unknown, 404)
    assert (await client.get(f"/admin/jobs/{dead}/retry", headers=ADMIN)).status_code == 405


async def test_job_routes_need_the_admin_token(
    client: httpx.AsyncClient, runtime: Runtime, dev_headers: dict[str, str]
) -> None:
    _, dead, _ = two_jobs(runtime)
    for headers in ({}, {"Authorization": "Bearer nope"}, dev_headers):
        assert_error_shape(await client.get("/admin/jobs", headers=headers), 401)
        assert_error_shape(await client.post(f"/admin/jobs/{dead}/retry", headers=headers), 401)
    with runtime.db.read() as session:
        row = session.get(Job, dead)
        assert row is not None and row.state == queue.DEAD
