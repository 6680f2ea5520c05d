"""Messaging jobs: send one queued message through the transport for its channel."""

from __future__ import annotations

from sqlalchemy.orm import Session

from heedful.config import Settings
from heedful.jobs.registry import JobContext, JobRegistry, failed_kind
from heedful.messaging import service
from heedful.messaging.transports import build_transports


def register_jobs(registry: JobRegistry, settings: Settings | None = None) -> None:
    """Without `settings` (a bare registry), every message goes to the sandbox."""
    transports = build_transports(settings)
    policy = (
        service.SendPolicy(settings.message_max_attempts, settings.message_retry_base)
        if settings is not None
        else service.SendPolicy()
    )

    def send(session: Session, context: JobContext) -> None:
        if context.company_id is None:
            raise ValueError(f"{context.kind} job {context.job_id} has no company")
        message_id = int(context.payload["message_id"])
        service.send(session, context.clock, context.company_id, message_id, transports, policy)

    def send_failed(session: Session, context: JobContext) -> None:
        if context.company_id is None:
            raise ValueError(f"{context.kind} job {context.job_id} has no company")
        message_id = int(context.payload["message_id"])
        service.send_failed(session, context.company_id, message_id, str(context.payload["error"]))

    registry.register(service.SEND_JOB)(send)
    registry.register(failed_kind(service.SEND_JOB))(send_failed)
