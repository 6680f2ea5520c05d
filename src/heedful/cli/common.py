"""What every command shares: settings from options and env, the runtime, error reporting."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from pydantic import ValidationError
from pydantic_settings import SettingsError
from rich.console import Console
from rich.text import Text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from heedful.config import Settings
from heedful.errors import HeedfulError
from heedful.runtime import Runtime, build_runtime
from heedful.storage import migrate

# Markup stays on for our own literals; anything that comes from users, the database or
# exceptions goes through `say`/`fail`, which print it verbatim. No emoji codes: "a:b:c" is text.
console = Console(highlight=False, emoji=False)
errors = Console(stderr=True, highlight=False, emoji=False)
T = TypeVar("T")

DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL (default: HEEDFUL_DATABASE_URL or a SQLite file under .heedful/)",
        show_default=False,
    ),
]


def say(text: str) -> None:
    """Print `text` as it is: no markup, and never wrapped (secrets must survive copy-paste)."""
    console.print(text, markup=False, soft_wrap=True)


def note(text: str) -> None:
    """`say` on stderr: for a command whose stdout is its output (a file written to it)."""
    errors.print(text, markup=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Report `message` on stderr as `error: ...` (no traceback) and exit with `code`."""
    errors.print(Text.assemble(("error:", "red"), " ", message), soft_wrap=True)
    raise typer.Exit(code)


def make_settings(database_url: str | None = None, **overrides: Any) -> Settings:
    values = {key: value for key, value in overrides.items() if value is not None}
    if database_url:
        values["database_url"] = database_url
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = "; ".join(
            # A rule across settings has no location; its message names them.
            ": ".join(filter(None, (".".join(map(str, error["loc"])), error["msg"])))
            for error in exc.errors()
        )
        fail(f"invalid settings (HEEDFUL_* variables, .env or options): {problems}")
    except SettingsError as exc:  # a value that must be decoded first (JSON) and is not
        cause = f" ({exc.__cause__})" if exc.__cause__ else ""
        fail(f"invalid settings: {exc}{cause}")
    except (UnicodeDecodeError, OSError) as exc:  # the only file settings read is .env
        fail(f"cannot read settings from .env: {exc}")


@contextmanager
def runtime_for(database_url: str | None, *, migrated: bool = True) -> Iterator[Runtime]:
    """The runtime for one command; database failures become one `error:` line and exit 1."""
    settings = make_settings(database_url)
    try:
        runtime = build_runtime(settings)
    except (SQLAlchemyError, OSError, ImportError) as exc:  # ImportError: a driver not installed
        fail(f"cannot open database {display_url(settings.database_url)}: {describe(exc)}")
    try:
        if migrated:
            migrate.upgrade(runtime.db.engine)
        yield runtime
    # RevisionError: a revision this heedful does not know (a newer one migrated the database)
    except (SQLAlchemyError, CommandError, RevisionError) as exc:
        fail(f"database {display_url(settings.database_url)}: {describe(exc)}")
    finally:
        runtime.db.dispose()


def run_service(database_url: str | None, fn: Callable[[Session, Runtime], T]) -> T:
    """Run one use case in one transaction; domain errors become a message and exit code 1."""
    with runtime_for(database_url) as runtime:
        try:
            with runtime.db.transaction() as session:
                return fn(session, runtime)
        except HeedfulError as exc:
            fail(exc.message)


def display_url(url: str) -> str:
    """`url` without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (SQLAlchemyError, ValueError):
        return url.split("@")[-1]


def describe(exc: BaseException) -> str:
    """The driver's own words for a database error, on one line, without SQLAlchemy's links."""
    text = str(getattr(exc, "orig", None) or exc)
    lines = [line.strip() for line in text.splitlines()]
    return " ".join(line for line in lines if line and not line.startswith("(Background on"))
