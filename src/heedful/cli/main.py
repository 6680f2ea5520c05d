"""`heedful`: serve, worker, db, and the admin commands."""

from __future__ import annotations

import os
import signal
import threading
from typing import Annotated

import typer
import uvicorn
from rich.panel import Panel

from heedful.cli.common import DatabaseUrlOption, console, make_settings, runtime_for
from heedful.cli.tenants import app_app, company_app, token_app
from heedful.config import Settings
from heedful.http.logs import configure_logging
from heedful.oauth.bootstrap import ensure_development_setup
from heedful.runtime import Runtime
from heedful.storage import migrate

cli = typer.Typer(
    help="heedful: a stateful implementation of the Attentive v1 REST API.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
cli.add_typer(db_app, name="db")
cli.add_typer(company_app, name="company")
cli.add_typer(app_app, name="app")
cli.add_typer(token_app, name="token")


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind [default: 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [default: 8787]")] = None,
    database_url: DatabaseUrlOption = None,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn processes")] = 1,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="API only, no job worker")] = False,
) -> None:
    """Migrate, ensure the development tenant, and serve the API (with a job worker)."""
    settings = make_settings(database_url, host=host, port=port)
    configure_logging(settings.log_level)
    with runtime_for(settings.database_url) as runtime:
        _announce_development_setup(runtime)
    # Child processes (--workers > 1) rebuild the settings from the environment.
    os.environ["HEEDFUL_DATABASE_URL"] = settings.database_url
    os.environ["HEEDFUL_SERVE_WORKER"] = "0" if no_worker else "1"
    console.print(f"heedful listening on http://{settings.host}:{settings.port} (docs at /docs)")
    uvicorn.run(
        "heedful.cli.main:app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        access_log=False,
        log_level=settings.log_level.lower(),
    )


def app_from_environment() -> object:
    from heedful.app import create_app

    settings = Settings()
    configure_logging(settings.log_level)
    return create_app(settings, run_worker=os.environ.get("HEEDFUL_SERVE_WORKER", "1") == "1")


def _announce_development_setup(runtime: Runtime) -> None:
    token = runtime.settings.bootstrap_token
    with runtime.db.transaction() as session:
        setup = ensure_development_setup(
            session, runtime.clock, token.get_secret_value() if token else None
        )
        company_name, app_name = setup.company.name, setup.application.name
    if setup.new_api_key:
        console.print(
            Panel(
                f"[bold]{setup.new_api_key}[/bold]\n\n"
                f"Company '{company_name}', app '{app_name}', every scope. Shown once: "
                f"keep it, or make another with `heedful token create --app {app_name}`.",
                title="Development API key",
            )
        )
    else:
        console.print(
            f"Development company '{company_name}' ready (app '{app_name}'); "
            f"new key: heedful token create --app {app_name}"
        )


@cli.command()
def worker(database_url: DatabaseUrlOption = None) -> None:
    """Run only the job worker (scale out with several of these on PostgreSQL)."""
    settings = make_settings(database_url)
    configure_logging(settings.log_level)
    with runtime_for(settings.database_url) as runtime:
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        console.print("heedful worker running; Ctrl-C to stop")
        runtime.worker().run_forever(stop)


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseUrlOption = None) -> None:
    """Apply every migration not yet applied."""
    with runtime_for(database_url) as runtime:
        console.print(f"Database at revision {migrate.current_revision(runtime.db.engine)}")


@db_app.command("current")
def db_current(database_url: DatabaseUrlOption = None) -> None:
    """Show the applied and the latest revision."""
    with runtime_for(database_url, migrated=False) as runtime:
        current = migrate.current_revision(runtime.db.engine)
        head = migrate.head_revision(runtime.db.engine)
        console.print(f"current: {current or '(empty)'}  head: {head}")


def main() -> None:
    cli()
