"""Admin API for the job queue: list jobs (dead ones, say) and retry a dead job."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from heedful.admin.guard import admin_only
from heedful.core import ids
from heedful.core.numbers import parse_digits
from heedful.errors import InvalidRequest, NotFound, quoted
from heedful.http.responses import json_response
from heedful.jobs import inspection
from heedful.jobs.queue import STATES
from heedful.runtime import Runtime

MAX_KIND_LENGTH = 128  # jobs.kind


@admin_only
async def list_jobs(request: Request, runtime: Runtime) -> Response:
    """`?state=queued|running|done|dead` `?kind=` `?company=` `?limit=` (newest first)."""
    query = request.query_params
    state = query.get("state")
    if state is not None and state not in STATES:
        raise InvalidRequest(f"`state` must be one of {', '.join(STATES)}")
    kind = query.get("kind")
    if kind is not None and not 1 <= len(kind) <= MAX_KIND_LENGTH:
        raise InvalidRequest(f"`kind` must be 1 to {MAX_KIND_LENGTH} characters")
    company_id = None
    if "company" in query:
        company_id = ids.COMPANY.decode(query["company"])
        if company_id is None:
            raise InvalidRequest("`company` must be a company id")
    limit = parse_digits(query.get("limit", "100"), 6)
    if limit is None or not 1 <= limit <= inspection.MAX_LIMIT:
        raise InvalidRequest(f"`limit` must be a whole number from 1 to {inspection.MAX_LIMIT}")
    found = await runtime.read(
        inspection.list_jobs,
        state=state,
        kind=kind,
        company_id=company_id,
        limit=limit,
        default_max_attempts=runtime.settings.job_max_attempts,
    )
    return json_response({"jobs": found})


@admin_only
async def retry_job(request: Request, runtime: Runtime) -> Response:
    """Queue a dead job again now, with all its attempts (409 if it is not dead)."""
    raw = request.path_params["jobId"]
    job_id = parse_digits(raw)
    if job_id is None:
        raise NotFound(f"No job {quoted(raw)}")

    def retry(session: Session) -> dict[str, Any]:
        return inspection.retry_job(
            session,
            runtime.clock,
            job_id,
            default_max_attempts=runtime.settings.job_max_attempts,
        )

    return json_response({"job": await runtime.run(retry)}, 202)


routes = [
    Route("/jobs", list_jobs, methods=["GET"]),
    Route("/jobs/{jobId}/retry", retry_job, methods=["POST"]),
]
