"""`heedful users show`: a user by identifier, with identifiers, attributes and latest events."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text
from sqlalchemy.orm import Session

from heedful.cli.common import DatabaseUrlOption, console, run_service, say
from heedful.identity import inspection
from heedful.oauth import service as oauth_service
from heedful.runtime import Runtime

users_app = typer.Typer(help="Users (the identity graph) and their events.", no_args_is_help=True)


@users_app.command("show")
def users_show(
    phone: Annotated[str | None, typer.Option(help="E.164 phone, e.g. +13115552368")] = None,
    email: Annotated[str | None, typer.Option(help="Email (any case)")] = None,
    client_user_id: Annotated[str | None, typer.Option("--client-user-id")] = None,
    company: Annotated[
        str | None, typer.Option(help="Company id or name [default: every company]")
    ] = None,
    events: Annotated[int, typer.Option(min=0, max=500, help="Latest events to show")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Show the user(s) an identifier names: identifiers, attributes and latest events."""

    def find(session: Session, runtime: Runtime) -> list[dict[str, Any]]:
        identifier = inspection.lookup_identifier(phone, email, client_user_id)
        company_id = oauth_service.find_company(session, company).id if company else None
        return inspection.find_users(session, identifier, company_id, max(events, 1))

    users = run_service(database_url, find)
    for user in users:
        user["latestEvents"] = user["latestEvents"][:events]
    if as_json:
        say(json.dumps(users, indent=2, ensure_ascii=False))
    elif not users:
        say("No such user.")
    else:
        for user in users:
            _print_user(user)
    if not users:  # a lookup that found nothing, in either format
        raise typer.Exit(1)


def _print_user(user: dict[str, Any]) -> None:
    say(f"User {user['id']} (company {user['companyId']}, since {user['createdAt']})")
    if user["mergedUserIds"]:
        say(f"  merged from users {', '.join(str(i) for i in user['mergedUserIds'])}")
    identifiers = Table("kind", "name", "value", title="Identifiers", title_justify="left")
    for item in user["identifiers"]:
        identifiers.add_row(Text(item["kind"]), Text(item.get("name", "")), Text(item["value"]))
    console.print(identifiers)
    if user["attributes"]:
        attributes = Table("attribute", "type", "value", title="Attributes", title_justify="left")
        for name, attribute in user["attributes"].items():
            attributes.add_row(
                Text(name),
                Text(attribute["type"]),
                Text(json.dumps(attribute["value"], ensure_ascii=False)),
            )
        console.print(attributes)
    title = f"Latest events ({len(user['latestEvents'])} of {user['eventCount']})"
    table = Table("occurred at", "kind", "type", "details", title=title, title_justify="left")
    for event in user["latestEvents"]:
        details = {k: event[k] for k in ("properties", "items", "externalEventId") if k in event}
        table.add_row(
            Text(event["occurredAt"]),
            Text(event["kind"]),
            Text(event.get("type", "")),
            Text(json.dumps(details, ensure_ascii=False)),
        )
    console.print(table)
