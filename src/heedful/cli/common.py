"""What every command shares: settings from options and env, the runtime, error reporting."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from heedful.config import Settings
from heedful.errors import HeedfulError
from heedful.runtime import Runtime, build_runtime
from heedful.storage import migrate

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)
T = TypeVar("T")

DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL (default: HEEDFUL_DATABASE_URL or a SQLite file under .heedful/)",
        show_default=False,
    ),
]


def make_settings(database_url: str | None = None, **overrides: Any) -> Settings:
    values = {key: value for key, value in overrides.items() if value is not None}
    if database_url:
        values["database_url"] = database_url
    return Settings(**values)


@contextmanager
def runtime_for(database_url: str | None, *, migrated: bool = True) -> Iterator[Runtime]:
    runtime = build_runtime(make_settings(database_url))
    try:
        if migrated:
            migrate.upgrade(runtime.db.engine)
        yield runtime
    finally:
        runtime.db.dispose()


def run_service(database_url: str | None, fn: Callable[[Session, Runtime], T]) -> T:
    """Run one use case in one transaction; domain errors become a message and exit code 1."""
    with runtime_for(database_url) as runtime:
        try:
            with runtime.db.transaction() as session:
                return fn(session, runtime)
        except HeedfulError as exc:
            errors.print(f"[red]error:[/red] {exc.message}")
            raise typer.Exit(1) from None
