"""`heedful`: serve, worker, db, and the admin commands."""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType
from typing import Annotated

import typer
import uvicorn
from rich.console import Group
from rich.panel import Panel
from rich.text import Text

from heedful.cli.catalog import catalog_app
from heedful.cli.common import DatabaseUrlOption, console, make_settings, runtime_for, say
from heedful.cli.jobs import jobs_app
from heedful.cli.messaging import messages_app
from heedful.cli.privacy import privacy_app
from heedful.cli.subscriptions import signup_source_app, sms_app
from heedful.cli.tenants import app_app, company_app, token_app
from heedful.cli.users import users_app
from heedful.cli.webhooks import webhooks_app
from heedful.config import Settings
from heedful.http.logs import configure_logging
from heedful.http.protocol import DeadlineProtocol
from heedful.oauth.bootstrap import ensure_development_setup
from heedful.runtime import Runtime
from heedful.storage import migrate
from heedful.webhooks.dispatcher import start_dispatcher

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
cli.add_typer(users_app, name="users")
cli.add_typer(webhooks_app, name="webhooks")
cli.add_typer(catalog_app, name="catalog")
cli.add_typer(signup_source_app, name="signup-source")
cli.add_typer(sms_app, name="sms")
cli.add_typer(messages_app, name="messages")
cli.add_typer(privacy_app, name="privacy")
cli.add_typer(jobs_app, name="jobs")


@cli.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to bind (default: HEEDFUL_HOST or 127.0.0.1)")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: HEEDFUL_PORT or 8787)")] = None,
    database_url: DatabaseUrlOption = None,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn processes")] = 1,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="API only, no job worker")] = False,
) -> None:
    """Migrate, ensure the development tenant, and serve the API (with a job worker)."""
    settings = make_settings(database_url, host=host, port=port)
    configure_logging(settings.log_level)
    with runtime_for(settings.database_url) as runtime:
        # In production an all-scopes tenant and a key printed to the console are only made
        # when asked for (HEEDFUL_BOOTSTRAP_TOKEN); companies and apps come from the CLI.
        if settings.env == "development" or settings.bootstrap_token is not None:
            _announce_development_setup(runtime)
        else:
            say("production: no development company; make companies and apps with the CLI")
    # The app factory (in each process when --workers > 1) rebuilds the settings from the
    # environment, so options given on the command line travel there too.
    os.environ["HEEDFUL_DATABASE_URL"] = settings.database_url
    os.environ["HEEDFUL_HOST"] = settings.host
    os.environ["HEEDFUL_PORT"] = str(settings.port)
    os.environ["HEEDFUL_SERVE_WORKER"] = "0" if no_worker else "1"
    say(f"heedful listening on http://{settings.host}:{settings.port} (docs at /docs)")
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to the handler
    # it found. With the default one a single-process server would die by SIGTERM (exit 143)
    # after a clean shutdown; with this one it exits 0, as `worker` and `--workers N` do.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _exit_after_shutdown)
    uvicorn.run(
        "heedful.cli.main:app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        http=DeadlineProtocol,
        access_log=False,
        log_level=settings.log_level.lower(),
    )


def _exit_after_shutdown(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def app_from_environment() -> object:
    from heedful.app import create_app

    settings = Settings()
    configure_logging(settings.log_level)
    # Here, as this runs in every server process (`--workers N` starts them afresh).
    DeadlineProtocol.header_timeout = settings.header_timeout_seconds
    DeadlineProtocol.body_timeout = settings.body_timeout_seconds
    return create_app(settings, run_worker=os.environ.get("HEEDFUL_SERVE_WORKER", "1") == "1")


def _announce_development_setup(runtime: Runtime) -> None:
    token = runtime.settings.bootstrap_token
    with runtime.db.transaction() as session:
        setup = ensure_development_setup(
            session, runtime.clock, token.get_secret_value() if token else None
        )
        company_name, app_name = setup.company.name, setup.application.name
    key = setup.new_api_key
    if key:
        note = Text(
            f"Company '{company_name}', app '{app_name}', every scope. Shown once: keep it, "
            f"or make another with `heedful token create --app {app_name}`."
        )
        # The key goes in the panel only when it fits on one line of it; otherwise (a narrow
        # terminal) the panel would break it, so it follows the panel on a line of its own.
        fits = console.width >= len(key) + 4
        body = Group(Text(key, style="bold"), Text(), note) if fits else note
        console.print(Panel(body, title="Development API key"))
        if not fits:
            say(key)
    elif token:
        say(
            f"Development company '{company_name}' ready (app '{app_name}'); "
            "its API key is the value of HEEDFUL_BOOTSTRAP_TOKEN"
        )
    else:
        say(
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
        deliveries = start_dispatcher(runtime.db, runtime.clock, runtime.settings, stop)
        runtime.worker().run_forever(stop)
        deliveries.join(timeout=30)


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseUrlOption = None) -> None:
    """Apply every migration not yet applied."""
    with runtime_for(database_url) as runtime:
        say(f"Database at revision {', '.join(migrate.status(runtime.db.engine).applied)}")


@db_app.command("current")
def db_current(database_url: DatabaseUrlOption = None) -> None:
    """Show the applied and the latest revision of each branch."""
    with runtime_for(database_url, migrated=False) as runtime:
        state = migrate.status(runtime.db.engine)
    say(f"current: {', '.join(state.applied) or '(empty)'}")
    say(f"head:    {', '.join(state.heads)}")
    pending = state.pending
    say("up to date" if not pending else f"pending: {', '.join(pending)} (heedful db upgrade)")


def main() -> None:
    cli()
