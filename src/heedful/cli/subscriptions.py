"""`heedful signup-source create|list` and `heedful sms inbound` (the simulated carrier)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Column, Table
from rich.text import Text
from sqlalchemy.orm import Session

from heedful.cli.common import DatabaseUrlOption, console, run_service, say
from heedful.oauth import service as oauth_service
from heedful.runtime import Runtime
from heedful.subscriptions import service
from heedful.subscriptions.admin import receive_text

signup_source_app = typer.Typer(
    help="Sign-up sources (the `signUpSourceId` of POST /v1/subscriptions).", no_args_is_help=True
)
sms_app = typer.Typer(help="Simulate texts from subscribers (there is no carrier).")

CompanyOption = Annotated[str, typer.Option(help="Company id or name")]


@signup_source_app.command("create")
def signup_source_create(
    company: CompanyOption,
    name: Annotated[str, typer.Option(help="Shown as the webhook's `creative.name`")],
    subscription_type: Annotated[
        str, typer.Option("--type", help="MARKETING or TRANSACTIONAL")
    ] = "MARKETING",
    opt_in: Annotated[
        str, typer.Option("--opt-in", help="double (a 'Reply Y' text first) or single")
    ] = "double",
    locale: Annotated[str, typer.Option(help="Language of its texts: en-US or fr-CA")] = "en-US",
    database_url: DatabaseUrlOption = None,
) -> None:
    """Create an API sign-up source for a company."""

    def create(session: Session, runtime: Runtime) -> dict[str, Any]:
        company_id = oauth_service.find_company(session, company).id
        made = service.create_signup_source(
            session, runtime.clock, company_id, name, subscription_type.upper(), opt_in, locale
        )
        return service.signup_source_view(made)

    view = run_service(database_url, create)
    say(f"id: {view['id']}")
    say(
        f"Sign-up source '{view['name']}' ({view['subscriptionType']}, {view['optIn']} opt-in, "
        f"{view['locale']})"
    )


@signup_source_app.command("list")
def signup_source_list(
    company: Annotated[
        str | None, typer.Option(help="Company id or name [default: every company]")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """List sign-up sources and their ids."""

    def rows(session: Session, runtime: Runtime) -> list[dict[str, Any]]:
        company_id = oauth_service.find_company(session, company).id if company else None
        return [
            service.signup_source_view(source)
            for source in service.list_signup_sources(session, company_id)
        ]

    sources = run_service(database_url, rows)
    if as_json:
        say(json.dumps(sources, indent=2, ensure_ascii=False))
        return
    if not sources:
        say("No sign-up sources; create one with `heedful signup-source create`.")
        return
    # Ids are copied into `signUpSourceId`: that column never wraps or shrinks.
    id_width = max(len(source["id"]) for source in sources)
    table = Table(
        Column("id", no_wrap=True, min_width=id_width),
        "company",
        "name",
        "type",
        "opt-in",
        "locale",
    )
    for source in sources:
        table.add_row(
            Text(source["id"]),
            Text(str(source["companyId"])),
            Text(source["name"]),
            Text(source["subscriptionType"]),
            Text(source["optIn"]),
            Text(source["locale"]),
        )
    console.print(table, soft_wrap=True)


@sms_app.command("inbound")
def sms_inbound(
    phone: Annotated[str, typer.Option("--from", help="The sender, E.164 (+13115552368)")],
    text: Annotated[str, typer.Option(help="What they texted: Y, STOP, HELP, START, ...")],
    company: Annotated[
        str | None, typer.Option(help="Company id or name [default: every company]")
    ] = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Simulate a text from a subscriber (the reply to a 'Reply Y' text, STOP, HELP, ...)."""

    def receive(session: Session, runtime: Runtime) -> list[dict[str, Any]]:
        return receive_text(session, runtime.clock, phone, text, company)

    for outcome in run_service(database_url, receive):
        changed = ", ".join(
            f"{item['type']} {item['channel']} {item['status']}"
            for item in outcome["subscriptions"]
        )
        say(
            f"company {outcome['companyId']}, user {outcome['userId']}: {outcome['action']}"
            + (f" ({changed})" if changed else "")
        )
