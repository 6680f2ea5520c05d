"""`heedful privacy list`: delete requests, their state and what processing removed."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text
from sqlalchemy.orm import Session

from heedful.cli.common import DatabaseUrlOption, console, run_service, say
from heedful.oauth import service as oauth_service
from heedful.privacy import service
from heedful.runtime import Runtime

privacy_app = typer.Typer(help="Privacy (CCPA) delete requests.", no_args_is_help=True)


@privacy_app.command("list")
def privacy_list(
    company: Annotated[
        str | None, typer.Option(help="Company id or name [default: every company]")
    ] = None,
    state: Annotated[
        str | None, typer.Option(help="pending, failed or processed [default: all]")
    ] = None,
    phone: Annotated[
        str | None, typer.Option(help="Only requests about this phone (by keyed hash)")
    ] = None,
    email: Annotated[
        str | None, typer.Option(help="Only requests about this email (by keyed hash)")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="Newest N requests")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """List delete requests, newest first, with masked identifiers and their state."""
    if state is not None and state not in service.LISTING_STATES:
        raise typer.BadParameter("must be pending, failed or processed", param_hint="--state")

    def find(session: Session, runtime: Runtime) -> list[dict[str, Any]]:
        company_id = oauth_service.find_company(session, company).id if company else None
        return service.list_requests(
            session,
            company_id,
            service.PrivacyPolicy.from_settings(runtime.settings),
            processed=None if state is None else service.LISTING_STATES[state][0],
            failed=None if state is None else service.LISTING_STATES[state][1],
            phone=phone,
            email=email,
            limit=limit,
        )

    found = run_service(database_url, find)
    if as_json:
        say(json.dumps(found, indent=2, ensure_ascii=False))
        return
    if not found:
        say("No privacy requests.")
        return
    table = Table("id", "company", "state", "subject", "requested", "processed at", "deleted")
    for item in found:
        subject = " ".join(
            value
            for value in (item["subjectPhone"], item["subjectEmail"], item["clientUserId"])
            if value
        )
        table.add_row(
            Text(item["id"]),
            Text(item["companyId"]),
            Text(item["state"]),
            Text(subject),
            Text(item["requestDateTime"]),
            Text(item["processingEndDateTime"] or "-"),
            Text(_deleted(item["outcome"])),
        )
    console.print(table)
    for item in found:
        if item["state"] == "failed":
            # The reason and the way out: fix the cause, then run the dead job again.
            say(
                f"{item['id']}: delete job {item['failedJobId']} is dead: {item['lastError']}"
                f" (fix the cause, then: heedful jobs retry {item['failedJobId']})"
            )


def _deleted(outcome: dict[str, Any] | None) -> str:
    if outcome is None:
        return "-"
    rows = sum(outcome["deleted"].values())
    return f"{outcome['users']} users, {rows} rows"
