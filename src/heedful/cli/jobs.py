"""`heedful jobs list / retry`: the job queue, and dead jobs sent back to run again."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text
from sqlalchemy.orm import Session

from heedful.cli.common import DatabaseUrlOption, console, run_service, say
from heedful.jobs import inspection
from heedful.jobs.queue import STATES
from heedful.oauth import service as oauth_service
from heedful.runtime import Runtime

jobs_app = typer.Typer(help="Background jobs: list them, retry dead ones.", no_args_is_help=True)
ERROR_CHARS = 80  # of last_error in the table; --json has all of it


@jobs_app.command("list")
def jobs_list(
    state: Annotated[
        str | None, typer.Option(help=f"{', '.join(STATES)} [default: every state]")
    ] = None,
    kind: Annotated[str | None, typer.Option(help="Job kind, e.g. privacy.delete")] = None,
    company: Annotated[
        str | None, typer.Option(help="Company id or name [default: every company]")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=inspection.MAX_LIMIT, help="Newest N jobs")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """List jobs, newest first, with their attempts and last error."""
    if state is not None and state not in STATES:
        raise typer.BadParameter(f"must be one of {', '.join(STATES)}", param_hint="--state")

    def find(session: Session, runtime: Runtime) -> list[dict[str, Any]]:
        company_id = oauth_service.find_company(session, company).id if company else None
        return inspection.list_jobs(
            session,
            state=state,
            kind=kind,
            company_id=company_id,
            limit=limit,
            default_max_attempts=runtime.settings.job_max_attempts,
        )

    found = run_service(database_url, find)
    if as_json:
        say(json.dumps(found, indent=2, ensure_ascii=False))
    elif not found:
        say("No jobs.")
    else:
        console.print(_table(found))


def _table(found: list[dict[str, Any]]) -> Table:
    table = Table("id", "kind", "state", "company", "attempts", "run at", "last error")
    for job in found:
        error = job["lastError"] or "-"
        table.add_row(
            Text(str(job["id"])),
            Text(job["kind"]),
            Text(job["state"]),
            Text(job["companyId"] or "-"),
            Text(f"{job['attempts']}/{job['maxAttempts']}"),
            Text(job["runAt"]),
            Text(error if len(error) <= ERROR_CHARS else error[: ERROR_CHARS - 1] + "…"),
        )
    return table


@jobs_app.command("retry")
def jobs_retry(
    job_id: Annotated[int, typer.Argument(metavar="ID", min=1, help="The dead job's id")],
    database_url: DatabaseUrlOption = None,
) -> None:
    """Queue a dead job again, due now, with all its attempts (fix what made it fail first)."""

    def retry(session: Session, runtime: Runtime) -> dict[str, Any]:
        return inspection.retry_job(
            session,
            runtime.clock,
            job_id,
            default_max_attempts=runtime.settings.job_max_attempts,
        )

    job = run_service(database_url, retry)
    say(f"Job {job['id']} ({job['kind']}) queued again; a worker runs it now.")
