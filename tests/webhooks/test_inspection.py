"""Inspection: the admin delivery log, redelivery, and the `heedful webhooks` commands."""

from __future__ import annotations

import threading

import httpx
import pytest
from typer.testing import CliRunner

from heedful.cli.main import cli
from heedful.core.clock import FrozenClock
from heedful.errors import Conflict
from heedful.runtime import Runtime
from heedful.webhooks import service
from heedful.webhooks.dispatcher import Dispatcher
from tests.conftest import ADMIN_TOKEN
from tests.factories import make_company
from tests.http.test_errors import assert_error_shape
from tests.webhooks.receiver import Receiver
from tests.webhooks.support import deliveries, emit, make_webhook

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def test_admin_delivery_log_has_every_attempt(
    client: httpx.AsyncClient,
    runtime: Runtime,
    receiver: Receiver,
    dispatcher: Dispatcher,
    clock: FrozenClock,
) -> None:
    company = make_company(runtime)
    hook = make_webhook(runtime, company.id, receiver.url("/x"))
    receiver.script("/x", 502)
    emit(runtime, company.id)
    emit(runtime, company.id)
    await dispatcher.deliver_due()

    log = (await client.get(f"/admin/webhooks/{hook.public_id}/deliveries", headers=ADMIN)).json()
    assert [d["state"] for d in log["deliveries"]] == ["succeeded", "pending"]  # newest first
    failing = log["deliveries"][1]
    assert failing["attemptLog"][0]["statusCode"] == 502
    assert failing["attemptLog"][0]["error"] == "HTTP 502"
    assert failing["lastError"] == "HTTP 502"
    failed_only = await client.get(
        f"/admin/webhooks/{hook.public_id}/deliveries?failed=true", headers=ADMIN
    )
    assert [d["id"] for d in failed_only.json()["deliveries"]] == [failing["id"]]

    # Redelivery of a finished delivery: same id, same body, sent again.
    done = log["deliveries"][0]["id"]
    again = await client.post(f"/admin/webhook-deliveries/{done}/redeliver", headers=ADMIN)
    assert again.status_code == 202
    busy = await client.post(f"/admin/webhook-deliveries/{failing['id']}/redeliver", headers=ADMIN)
    assert_error_shape(busy, 409)
    missing = await client.post("/admin/webhook-deliveries/nope/redeliver", headers=ADMIN)
    assert_error_shape(missing, 404)
    await dispatcher.deliver_due()
    ids = [r.delivery_id for r in receiver.received("/x")]
    assert ids.count(done) == 2


@pytest.fixture
def heedful_cli(monkeypatch: pytest.MonkeyPatch, database_url: str) -> CliRunner:
    monkeypatch.setenv("HEEDFUL_DATABASE_URL", database_url)
    return CliRunner()


def test_cli_lists_shows_the_key_and_the_deliveries(
    heedful_cli: CliRunner, runtime: Runtime, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    company = make_company(runtime)
    hook = make_webhook(runtime, company.id, receiver.url("/cli"))
    receiver.script("/cli", 500)
    emit(runtime, company.id)
    dispatcher.run_once()
    [delivery] = deliveries(runtime)

    listed = heedful_cli.invoke(cli, ["webhooks", "list"], env={"COLUMNS": "250"})
    assert listed.exit_code == 0, listed.output
    assert hook.public_id in listed.output and "enabled" in listed.output
    assert hook.signing_key not in listed.output

    shown = heedful_cli.invoke(cli, ["webhooks", "show", hook.public_id])
    assert shown.exit_code == 0, shown.output
    assert f"signing key:          {hook.signing_key}" in shown.output.splitlines()

    log = heedful_cli.invoke(
        cli,
        ["webhooks", "deliveries", "--webhook", hook.public_id, "--failed"],
        env={"COLUMNS": "250"},
    )
    assert log.exit_code == 0, log.output
    assert delivery.public_id in log.output and "HTTP 500" in log.output

    busy = heedful_cli.invoke(cli, ["webhooks", "redeliver", delivery.public_id])
    assert busy.exit_code == 1 and "still pending" in busy.output
    missing = heedful_cli.invoke(cli, ["webhooks", "show", "nope"])
    assert missing.exit_code == 1 and "not found" in missing.output


def test_cli_delivery_ids_stay_whole_in_a_narrow_terminal(
    heedful_cli: CliRunner, runtime: Runtime, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    # The README has the operator copy a delivery id out of this table into `redeliver`.
    company = make_company(runtime)
    make_webhook(runtime, company.id, receiver.url("/narrow"))
    receiver.script("/narrow", 500)
    emit(runtime, company.id)
    dispatcher.run_once()
    [delivery] = deliveries(runtime)

    log = heedful_cli.invoke(cli, ["webhooks", "deliveries"], env={"COLUMNS": "80"})

    assert log.exit_code == 0, log.output
    assert delivery.public_id in log.output, log.output


def test_a_second_redelivery_at_the_same_time_is_a_conflict(
    runtime: Runtime, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    """SQLite runs one writer at a time, so the second request saw `pending`; PostgreSQL let
    both read the finished state before either wrote, and both answered 202."""
    company = make_company(runtime)
    make_webhook(runtime, company.id, receiver.url("/x"))
    emit(runtime, company.id)
    dispatcher.run_once()
    [delivery] = deliveries(runtime)
    outcome: list[str] = []

    def second() -> None:
        try:
            with runtime.db.transaction() as session:
                service.redeliver(session, runtime.clock, delivery.public_id)
            outcome.append("redelivered")
        except Conflict:
            outcome.append("conflict")

    with runtime.db.transaction() as session:
        service.redeliver(session, runtime.clock, delivery.public_id)
        racer = threading.Thread(target=second)
        racer.start()
        racer.join(0.5)  # let it read (PostgreSQL) or wait for this transaction (SQLite)
    racer.join(10)

    assert outcome == ["conflict"]
