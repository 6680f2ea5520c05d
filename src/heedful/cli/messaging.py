"""`heedful messages list|templates|template-set`: the outbox and each company's wording."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text
from sqlalchemy.orm import Session

from heedful.cli.common import DatabaseUrlOption, console, run_service, say
from heedful.messaging import service, templates
from heedful.messaging.admin import MAX_LIMIT, find_messages
from heedful.oauth import service as oauth_service
from heedful.runtime import Runtime

messages_app = typer.Typer(
    help="Messages sent to (and texts received from) subscribers.", no_args_is_help=True
)


@messages_app.command("list")
def messages_list(
    phone: Annotated[str | None, typer.Option(help="E.164 phone, e.g. +13115552368")] = None,
    email: Annotated[str | None, typer.Option(help="Email (any case)")] = None,
    company: Annotated[
        str | None, typer.Option(help="Company id or name [default: every company]")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=MAX_LIMIT, help="Newest N")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Messages to or from a phone/email (every message when neither is given), newest first."""

    def find(session: Session, runtime: Runtime) -> list[dict[str, Any]]:
        return find_messages(session, phone, email, company, limit)

    found = run_service(database_url, find)
    if as_json:
        say(json.dumps(found, indent=2, ensure_ascii=False))
        return
    if not found:
        say("No messages.")
        return
    table = Table("id", "created", "dir", "channel", "type", "address", "status", "text")
    for item in found:
        text = item["text"] if item["channel"] == "TEXT" else f"{item['subject']}: {item['text']}"
        table.add_row(
            Text(item["id"]),
            Text(item["createdAt"]),
            Text(item["direction"]),
            Text(item["channel"]),
            Text(item["type"]),
            Text(item.get("to") or item.get("from") or ""),
            Text(item["status"]),
            Text(text),
        )
    console.print(table)


@messages_app.command("template-set")
def template_set(
    company: Annotated[str, typer.Option(help="Company id or name")],
    message_type: Annotated[
        str, typer.Option("--type", help=f"One of {', '.join(templates.TYPES)}")
    ],
    body: Annotated[str, typer.Option(help="Text; placeholders {company}, {purpose}, {contact}")],
    language: Annotated[str, typer.Option(help="en-US or fr-CA")] = "en-US",
    subject: Annotated[str | None, typer.Option(help="Email subject (emails only)")] = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Set a company's own wording for one message type and language."""

    def set_one(session: Session, runtime: Runtime) -> str:
        company_id = oauth_service.find_company(session, company).id
        made = service.set_template(
            session, runtime.clock, company_id, message_type, language, body, subject
        )
        return f"Template {made.type} ({made.language}) set"

    say(run_service(database_url, set_one))


@messages_app.command("templates")
def templates_list(
    company: Annotated[str, typer.Option(help="Company id or name")],
    database_url: DatabaseUrlOption = None,
) -> None:
    """The wording a company's messages use: its own templates, else the defaults."""

    def rows(session: Session, runtime: Runtime) -> list[tuple[str, str, str, str]]:
        company_id = oauth_service.find_company(session, company).id
        own = {(t.type, t.language): t for t in service.templates_of(session, company_id)}
        found = []
        for message_type, by_language in templates.DEFAULTS.items():
            for language, default in by_language.items():
                mine = own.get((message_type, language))
                body = mine.body if mine else default.body
                found.append((message_type, language, "company" if mine else "default", body))
        return found

    table = Table("type", "language", "source", "body")
    for row in run_service(database_url, rows):
        table.add_row(*(Text(value) for value in row))
    console.print(table)
