"""`heedful company|app|token ...`: tenants and credentials."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Column, Table
from rich.text import Text
from sqlalchemy.orm import Session

from heedful.cli.common import DatabaseUrlOption, console, run_service, say
from heedful.core import ids
from heedful.oauth import service
from heedful.oauth.scopes import parse_scopes
from heedful.runtime import Runtime

company_app = typer.Typer(help="Companies (tenants).", no_args_is_help=True)
app_app = typer.Typer(help="Applications and their credentials.", no_args_is_help=True)
token_app = typer.Typer(help="API keys (bearer tokens).", no_args_is_help=True)


@company_app.command("create")
def company_create(
    name: str,
    domain: Annotated[
        str | None, typer.Option(help="attentiveDomainName, e.g. shop.attn.tv")
    ] = None,
    contact_email: Annotated[str | None, typer.Option("--contact-email")] = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Create a company and print its admin key (shown once)."""

    def create(session: Session, runtime: Runtime) -> tuple[str, str, str]:
        made = service.create_company(
            session, runtime.clock, name, domain=domain, contact_email=contact_email
        )
        return ids.COMPANY.encode(made.company.id), made.company.name, made.admin_key

    company_id, company_name, admin_key = run_service(database_url, create)
    say(f"Created company {company_name} ({company_id})")
    say("Admin key (shown once, store it now):")
    say(admin_key)


@company_app.command("list")
def company_list(database_url: DatabaseUrlOption = None) -> None:
    """List every company."""

    def rows(session: Session, runtime: Runtime) -> list[tuple[str, ...]]:
        return [
            (
                ids.COMPANY.encode(c.id),
                c.name,
                c.domain,
                c.contact_email,
                "yes" if c.is_development else "",
            )
            for c in service.list_companies(session)
        ]

    companies = run_service(database_url, rows)
    if not companies:
        say("No companies yet; create one with `heedful company create NAME`.")
        return
    # Ids are copied into other commands: that column never wraps or shrinks.
    id_width = max(len(row[0]) for row in companies)
    table = Table(
        Column("id", no_wrap=True, min_width=id_width), "name", "domain", "contact email", "dev"
    )
    for row in companies:
        table.add_row(*(Text(cell) for cell in row))  # names are data, not markup
    console.print(table)


@app_app.command("create")
def app_create(
    company: Annotated[str, typer.Option(help="Company id or name")],
    name: Annotated[str, typer.Option(help="Application name")],
    scopes: Annotated[list[str], typer.Option("--scopes", help="Scopes, or 'all'")],
    redirect_uri: Annotated[
        list[str] | None,
        typer.Option("--redirect-uri", help="OAuth redirect URI (repeat for several)"),
    ] = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Create an application; prints client_id, client_secret and an API key once."""

    def create(session: Session, runtime: Runtime) -> service.NewApplication:
        owner = service.find_company(session, company)
        return service.create_application(
            session, runtime.clock, owner, name, parse_scopes(scopes), redirect_uris=redirect_uri
        )

    made = run_service(database_url, create)
    say(f"Created application {made.application.name}")
    say(f"client_id:     {made.application.client_id}")
    say(f"client_secret: {made.client_secret}   (shown once)")
    say(f"scopes:        {' '.join(made.application.scopes) or '(none)'}")
    say(f"redirect_uris: {' '.join(made.application.redirect_uris) or '(none)'}")
    say("API key (shown once):")
    say(made.api_key)


@app_app.command("rotate-secret")
def app_rotate_secret(
    app: Annotated[str, typer.Option("--app", help="Application name or client_id")],
    company: Annotated[str | None, typer.Option(help="Owning company id or name")] = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Replace an application's client_secret (printed once); the old one stops working."""

    def rotate(session: Session, runtime: Runtime) -> tuple[str, str]:
        owner = service.find_company(session, company) if company else None
        application = service.find_application(session, app, owner)
        return application.client_id, service.rotate_client_secret(session, application)

    client_id, client_secret = run_service(database_url, rotate)
    say(f"client_id:     {client_id}")
    say(f"client_secret: {client_secret}   (shown once)")


@app_app.command("uninstall")
def app_uninstall(
    app: Annotated[str, typer.Option("--app", help="Application name or client_id")],
    company: Annotated[str, typer.Option(help="Id or name of the company it is installed on")],
    database_url: DatabaseUrlOption = None,
) -> None:
    """Uninstall an OAuth app from a company: its access tokens stop working at once."""

    def uninstall(session: Session, runtime: Runtime) -> tuple[str, str, int]:
        installed_on = service.find_company(session, company)
        application = service.find_application(session, app)
        revoked = service.uninstall(session, runtime.clock, application, installed_on)
        return application.name, installed_on.name, revoked

    app_name, company_name, revoked = run_service(database_url, uninstall)
    say(f"Uninstalled {app_name} from {company_name}; revoked {revoked} access token(s)")


@token_app.command("create")
def token_create(
    app: Annotated[str, typer.Option("--app", help="Application name or client_id")],
    scopes: Annotated[list[str] | None, typer.Option("--scopes", help="Narrow to these")] = None,
    company: Annotated[str | None, typer.Option(help="Company id or name")] = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Create an API key for an application; the key is printed alone on the last line."""

    def create(session: Session, runtime: Runtime) -> str:
        owner = service.find_company(session, company) if company else None
        application = service.find_application(session, app, owner)
        narrowed = parse_scopes(scopes) if scopes else None
        return service.issue_api_key(session, runtime.clock, application, narrowed)

    token = run_service(database_url, create)
    say("API key (shown once):")
    say(token)


@token_app.command("revoke")
def token_revoke(token: str, database_url: DatabaseUrlOption = None) -> None:
    """Revoke an API key or access token; later calls with it answer 401."""

    def revoke(session: Session, runtime: Runtime) -> str:
        return service.revoke_token(session, runtime.clock, token).hint

    hint = run_service(database_url, revoke)
    say(f"Revoked token {hint}…")
