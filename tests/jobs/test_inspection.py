"""The operator's view of the queue: listing with filters, and retrying a dead job."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from heedful.core import ids
from heedful.core.clock import FrozenClock
from heedful.errors import Conflict, InvalidRequest, NotFound
from heedful.jobs import inspection, queue
from heedful.jobs.registry import JobContext, JobRegistry, failed_kind
from heedful.jobs.worker import Worker
from heedful.runtime import Runtime
from heedful.storage.db import Database
from tests.factories import make_company
from tests.jobs.support import enqueue_job, load_job

DEFAULT_MAX = 8


class Broken(Exception):
    pass


def listed(
    db: Database,
    *,
    state: str | None = None,
    kind: str | None = None,
    company_id: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    with db.read() as session:
        return inspection.list_jobs(
            session,
            state=state,
            kind=kind,
            company_id=company_id,
            limit=limit,
            default_max_attempts=DEFAULT_MAX,
        )


def retry(db: Database, clock: FrozenClock, job_id: int) -> dict[str, Any]:
    with db.transaction() as session:
        return inspection.retry_job(session, clock, job_id, default_max_attempts=DEFAULT_MAX)


def dead_job(db: Database, clock: FrozenClock, registry: JobRegistry, worker: Worker) -> int:
    """A `flaky` job that died on its only attempt with `Broken: down`."""

    @registry.register("flaky")
    def flaky(session: Session, context: JobContext) -> None:
        raise Broken("down")

    job_id = enqueue_job(db, clock, "flaky", {"n": 1}, max_attempts=1)
    worker.run_until_idle()
    assert load_job(db, job_id).state == queue.DEAD
    return job_id


def test_lists_newest_first_filtered_by_state_kind_and_company(
    runtime: Runtime, clock: FrozenClock
) -> None:
    company = make_company(runtime)
    with runtime.db.transaction() as session:
        first = queue.enqueue(session, clock, "a.one", {}, company_id=company.id).id
        second = queue.enqueue(session, clock, "b.two", {}, company_id=None, max_attempts=3).id
        third = queue.enqueue(session, clock, "a.one", {}, company_id=None).id

    everything = listed(runtime.db)
    assert [job["id"] for job in everything] == [third, second, first]
    assert everything[1]["maxAttempts"] == 3 and everything[0]["maxAttempts"] == DEFAULT_MAX
    assert everything[2]["companyId"] == ids.COMPANY.encode(company.id)
    assert everything[0]["companyId"] is None and everything[0]["lastError"] is None
    assert [job["id"] for job in listed(runtime.db, kind="a.one")] == [third, first]
    assert [job["id"] for job in listed(runtime.db, company_id=company.id)] == [first]
    assert [job["id"] for job in listed(runtime.db, limit=1)] == [third]
    assert listed(runtime.db, state=queue.DEAD) == []
    assert len(listed(runtime.db, state=queue.QUEUED)) == 3


def test_listing_refuses_bad_filters_and_an_unknown_company(runtime: Runtime) -> None:
    with pytest.raises(InvalidRequest, match="`state` must be one of queued, running"):
        listed(runtime.db, state="failed")
    with pytest.raises(InvalidRequest, match="`limit`"):
        listed(runtime.db, limit=0)
    with pytest.raises(NotFound, match=f"No company '{ids.COMPANY.encode(999)}'"):
        listed(runtime.db, company_id=999)


def test_retry_queues_a_dead_job_now_with_its_attempts_and_keeps_its_error(
    db: Database, clock: FrozenClock, registry: JobRegistry, worker: Worker
) -> None:
    job_id = dead_job(db, clock, registry, worker)
    clock.advance(timedelta(hours=1))

    view = retry(db, clock, job_id)

    job = load_job(db, job_id)
    assert (job.state, job.attempts, job.run_at) == (queue.QUEUED, 0, clock.now())
    assert job.locked_by is None and job.locked_until is None and job.finished_at is None
    assert job.last_error == "Broken: down"  # until it runs again
    assert view["state"] == "queued" and view["lastError"] == "Broken: down"
    assert listed(db, state=queue.DEAD) == []
    assert worker.run_until_idle() == 1  # due now, and it has its attempt back
    assert load_job(db, job_id).state == queue.DEAD


def test_retry_refuses_a_job_that_is_not_dead_and_an_unknown_one(
    db: Database, clock: FrozenClock
) -> None:
    job_id = enqueue_job(db, clock, "anything")

    with pytest.raises(Conflict, match=f"Job {job_id} is queued, not dead"):
        retry(db, clock, job_id)
    with pytest.raises(NotFound, match="No job 12345"):
        retry(db, clock, 12345)
    assert load_job(db, job_id).state == queue.QUEUED


def test_retry_refuses_a_dead_job_whose_failure_follow_up_was_enqueued(
    db: Database, clock: FrozenClock, registry: JobRegistry, worker: Worker
) -> None:
    """The follow-up ends the work (an upload PROCESSING_FAILED, a message failed); the
    handlers then do nothing, so a retry would only look like a success."""
    ended: list[int] = []

    @registry.register(failed_kind("flaky"))
    def flaky_failed(session: Session, context: JobContext) -> None:
        ended.append(int(context.payload["failed_job_id"]))

    job_id = dead_job(db, clock, registry, worker)
    assert ended == [job_id]

    with pytest.raises(Conflict, match=r"handed to job \d+ \(flaky.failed, done\)") as refused:
        retry(db, clock, job_id)
    assert "start the work again instead" in refused.value.message
    assert load_job(db, job_id).state == queue.DEAD


def test_a_dead_follow_up_is_named_as_the_one_to_retry(
    db: Database, clock: FrozenClock, registry: JobRegistry, worker: Worker
) -> None:
    @registry.register(failed_kind("flaky"))
    def flaky_failed(session: Session, context: JobContext) -> None:
        raise Broken("still down")

    job_id = dead_job(db, clock, registry, worker)
    for _ in range(5):  # the follow-up has the worker's 5 attempts
        clock.advance(timedelta(hours=1))
        worker.run_until_idle()
    (follow_up,) = [job["id"] for job in listed(db, kind="flaky.failed", state=queue.DEAD)]

    with pytest.raises(Conflict, match=f"died too; retry job {follow_up} to end the work"):
        retry(db, clock, job_id)
    assert retry(db, clock, follow_up)["state"] == "queued"


def test_retry_of_jobs_of_another_company_is_not_blocked_by_a_foreign_follow_up(
    runtime: Runtime, clock: FrozenClock
) -> None:
    company = make_company(runtime)
    with runtime.db.transaction() as session:
        job = queue.enqueue(session, clock, "flaky", {}, company_id=company.id)
        job.state = queue.DEAD
        # Another job's follow-up, and one in another company with this job's id.
        payload = {"failed_job_id": job.id + 1000}
        queue.enqueue(session, clock, "flaky.failed", payload, company_id=company.id)
        queue.enqueue(session, clock, "flaky.failed", {"failed_job_id": job.id}, company_id=None)
        job_id = job.id

    assert retry(runtime.db, clock, job_id)["state"] == "queued"
