"""Catalog jobs: process an uploaded file chunk by chunk (and end the upload if that keeps
failing), wait for S3 objects, clean up."""

from __future__ import annotations

from sqlalchemy.orm import Session

from heedful.catalog import service
from heedful.catalog.files import remove_file, s3_object
from heedful.jobs.registry import JobContext, JobRegistry, failed_kind


def _company(context: JobContext) -> int:
    if context.company_id is None:
        raise ValueError(f"{context.kind} job {context.job_id} has no company")
    return context.company_id


def process(session: Session, context: JobContext) -> None:
    service.process_chunk(
        session,
        context.clock,
        _company(context),
        int(context.payload["upload_id"]),
        service.Processing.from_payload(context.payload),
    )


def await_object(session: Session, context: JobContext) -> None:
    service.await_object(
        session,
        context.clock,
        _company(context),
        int(context.payload["upload_id"]),
        service.Processing.from_payload(context.payload),
        s3_object,
    )


def process_failed(session: Session, context: JobContext) -> None:
    service.processing_failed(
        session,
        context.clock,
        _company(context),
        int(context.payload["upload_id"]),
        str(context.payload["error"]),
    )


def cleanup(session: Session, context: JobContext) -> None:
    remove_file(str(context.payload["backend"]), dict(context.payload["location"]))


def register_jobs(registry: JobRegistry) -> None:
    registry.register(service.PROCESS_JOB)(process)
    registry.register(failed_kind(service.PROCESS_JOB))(process_failed)
    registry.register(service.AWAIT_OBJECT_JOB)(await_object)
    registry.register(service.CLEANUP_JOB)(cleanup)
