"""Privacy jobs: process a delete request when it is due."""

from __future__ import annotations

from sqlalchemy.orm import Session

from heedful.jobs.registry import JobContext, JobRegistry
from heedful.privacy import service


def process(session: Session, context: JobContext) -> None:
    if context.company_id is None:
        raise ValueError(f"{context.kind} job {context.job_id} has no company")
    service.process_request(
        session,
        context.clock,
        context.company_id,
        int(context.payload["request_id"]),
        job_id=context.job_id,
    )


def register_jobs(registry: JobRegistry) -> None:
    registry.register(service.DELETE_JOB)(process)
