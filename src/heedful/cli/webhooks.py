"""`heedful webhooks ...`: webhooks with their signing keys, the delivery log, redelivery."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Column, Table
from rich.text import Text
from sqlalchemy.orm import Session

from heedful.cli.common import DatabaseUrlOption, console, run_service, say
from heedful.runtime import Runtime
from heedful.webhooks import repository, service
from heedful.webhooks.views import record_view, webhook_view

webhooks_app = typer.Typer(
    help="Webhooks, their signing keys and their deliveries.", no_args_is_help=True
)


@webhooks_app.command("list")
def webhooks_list(
    deleted: Annotated[bool, typer.Option("--deleted", help="Include deleted webhooks")] = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """List every company's webhooks (without signing keys; see `show`)."""

    def rows(session: Session, runtime: Runtime) -> list[dict[str, Any]]:
        return [
            webhook_view(hook, with_key=False)
            for hook in repository.all_webhooks(session, include_deleted=deleted)
        ]

    hooks = run_service(database_url, rows)
    if not hooks:
        say("No webhooks yet; create one with POST /v1/webhooks.")
        return
    id_width = max(len(hook["id"]) for hook in hooks)
    table = Table(
        Column("id", no_wrap=True, min_width=id_width), "company", "url", "events", "state"
    )
    for hook in hooks:
        state = (
            f"deleted {hook['deletedAt']}"
            if hook["deletedAt"]
            else f"disabled {hook['disabledAt']}"
            if hook["disabledAt"]
            else "enabled"
        )
        table.add_row(
            Text(hook["id"]),
            Text(hook["companyId"]),
            Text(hook["url"]),
            Text(", ".join(hook["events"])),
            Text(state),
        )
    console.print(table)


@webhooks_app.command("show")
def webhooks_show(webhook_id: str, database_url: DatabaseUrlOption = None) -> None:
    """One webhook, with the signing key its deliveries are signed with."""

    def show(session: Session, runtime: Runtime) -> dict[str, Any]:
        return webhook_view(service.operator_webhook(session, webhook_id), with_key=True)

    hook = run_service(database_url, show)
    for label, key in (
        ("id", "id"),
        ("company", "companyId"),
        ("url", "url"),
        ("type", "type"),
        ("created", "createdAt"),
        ("disabled", "disabledAt"),
        ("deleted", "deletedAt"),
        ("consecutive failures", "consecutiveFailures"),
    ):
        value = hook[key]
        say(f"{label + ':':22}{'-' if value is None else value}")
    say(f"{'events:':22}{', '.join(hook['events'])}")
    say(f"{'signing key:':22}{hook['signingKey']}")


@webhooks_app.command("deliveries")
def webhooks_deliveries(
    webhook: Annotated[str | None, typer.Option("--webhook", help="Only this webhook")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Only failed or failing")] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many")] = 50,
    database_url: DatabaseUrlOption = None,
) -> None:
    """The delivery log, newest first: state, attempts, last status and error."""

    def rows(session: Session, runtime: Runtime) -> list[dict[str, Any]]:
        records = service.delivery_log(
            session, webhook_public_id=webhook, failed_only=failed, limit=limit
        )
        return [record_view(record) for record in records]

    found = run_service(database_url, rows)
    if not found:
        say("No deliveries.")
        return
    # Delivery ids are copied into `redeliver`: that column never wraps or shrinks. The
    # webhook id (whole in `webhooks list`) gives way, rather than every other column.
    id_width = max(len(row["id"]) for row in found)
    table = Table(
        Column("delivery", no_wrap=True, min_width=id_width),
        Column("webhook", overflow="ellipsis"),
        "event",
        "state",
        Column("tries", justify="right"),
        Column("last status", justify="right"),
        Column("latency ms", justify="right"),
        "last error",
        "created",
    )
    for row in found:
        last = row["attemptLog"][-1] if row["attemptLog"] else None
        table.add_row(
            Text(row["id"]),
            Text(row["webhookId"]),
            Text(row["eventType"]),
            Text(row["state"], style="green" if row["state"] == "succeeded" else "red"),
            str(row["attempts"]),
            "-" if row["lastStatusCode"] is None else str(row["lastStatusCode"]),
            "-" if last is None else f"{last['latencyMs']:.1f}",
            Text(row["lastError"] or ""),
            Text(row["createdAt"] or ""),
        )
    console.print(table)


@webhooks_app.command("redeliver")
def webhooks_redeliver(delivery_id: str, database_url: DatabaseUrlOption = None) -> None:
    """Queue a finished delivery again (same body and delivery id); a worker sends it."""

    def again(session: Session, runtime: Runtime) -> str:
        return service.redeliver(session, runtime.clock, delivery_id).public_id

    say(f"Delivery {run_service(database_url, again)} queued again")
