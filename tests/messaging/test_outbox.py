"""The outbox: real SMTP delivery, retries, templates, the admin API and CLI views."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from typer.testing import CliRunner

from heedful.cli.main import cli
from heedful.config import Settings
from heedful.core import ids
from heedful.core.clock import FrozenClock
from heedful.errors import InvalidRequest
from heedful.jobs.queue import DONE
from heedful.messaging import service
from heedful.messaging.transports import SandboxTransport
from heedful.oauth.bootstrap import DevelopmentSetup
from heedful.runtime import Runtime
from heedful.storage.db import Database
from heedful.storage.models import Job
from tests.http.test_errors import assert_error_shape
from tests.messaging.conftest import SMTP_PASSWORD, SMTP_USER, Mailbox, free_port, smtp_runtime
from tests.subscriptions.support import (
    ADMIN,
    EMAIL,
    PHONE,
    dev_source,
    inbound,
    messages,
    run_jobs,
    subscribe,
)


async def test_welcome_email_goes_through_a_real_smtp_server(
    client: httpx.AsyncClient,
    runtime: Runtime,
    settings: Settings,
    db: Database,
    clock: FrozenClock,
    dev: DevelopmentSetup,
    dev_headers: dict[str, str],
    mailbox: tuple[Mailbox, int],
) -> None:
    box, port = mailbox
    await subscribe(client, dev_headers, dev_source(runtime, dev), email="Shopper@Example.com")
    mailer = smtp_runtime(
        settings,
        db,
        clock,
        port,
        smtp_username=SMTP_USER,
        smtp_password=SecretStr(SMTP_PASSWORD),
    )

    assert run_jobs(mailer) == 1

    [(mail_from, rcpt_tos, parsed)] = box.received
    [sent] = messages(runtime)
    assert (mail_from, rcpt_tos) == ("shop@heedful.test", ["shopper@example.com"])
    assert box.logins == [SMTP_USER]
    assert parsed["Subject"] == f"Welcome to {dev.company.name}"
    assert parsed["From"] == f"{dev.company.name} <shop@heedful.test>"
    assert parsed["X-Heedful-Message-Id"] == ids.MESSAGE.encode(sent.id)
    body = parsed.get_content()
    assert "marketing emails" in body
    assert body.replace("\r\n", "\n").strip() == sent.body.strip()
    assert sent.status == "sent" and sent.transport == "smtp" and sent.attempts == 1


async def test_texts_stay_in_the_sandbox_when_email_uses_smtp(
    client: httpx.AsyncClient,
    runtime: Runtime,
    settings: Settings,
    db: Database,
    clock: FrozenClock,
    dev: DevelopmentSetup,
    dev_headers: dict[str, str],
    mailbox: tuple[Mailbox, int],
) -> None:
    box, port = mailbox
    await subscribe(client, dev_headers, dev_source(runtime, dev), phone=PHONE)

    run_jobs(smtp_runtime(settings, db, clock, port))

    [text] = messages(runtime)
    assert text.status == "sent" and text.transport == "sandbox"
    assert box.received == []


async def test_an_unreachable_smtp_server_is_retried_then_failed(
    client: httpx.AsyncClient,
    runtime: Runtime,
    settings: Settings,
    db: Database,
    clock: FrozenClock,
    dev: DevelopmentSetup,
    dev_headers: dict[str, str],
) -> None:
    await subscribe(client, dev_headers, dev_source(runtime, dev), email=EMAIL)
    mailer = smtp_runtime(
        settings, db, clock, free_port(), message_max_attempts=2, message_retry_base=60.0
    )

    assert run_jobs(mailer) == 1
    [queued] = messages(runtime)
    assert queued.status == "queued" and queued.attempts == 1
    assert queued.last_error is not None and "SMTP 127.0.0.1" in queued.last_error
    assert run_jobs(mailer) == 0  # the retry waits 60 s
    clock.advance(timedelta(seconds=61))
    assert run_jobs(mailer) == 1

    [failed] = messages(runtime)
    assert failed.status == "failed" and failed.attempts == 2
    with runtime.db.transaction() as session:
        assert {job.state for job in session.scalars(select(Job))} == {DONE}


async def test_a_company_template_replaces_the_default(
    client: httpx.AsyncClient, runtime: Runtime, dev: DevelopmentSetup, dev_headers: dict[str, str]
) -> None:
    with runtime.db.transaction() as session:
        service.set_template(
            session,
            runtime.clock,
            dev.company.id,
            "OPT_IN_CONFIRMATION",
            "en-US",
            "{company} here: answer Y for {purpose} texts.",
        )
    # Placeholders outside the allowed set are refused when the template is set.
    with pytest.raises(InvalidRequest, match="unknown placeholders"), runtime.db.transaction() as s:
        service.set_template(
            s, runtime.clock, dev.company.id, "HELP", "en-US", "{company.name}x {x}"
        )

    await subscribe(client, dev_headers, dev_source(runtime, dev), phone=PHONE)

    [prompt] = messages(runtime)
    assert prompt.body.startswith(f"{dev.company.name} here: answer Y for marketing texts.")


async def test_admin_messages_lists_the_conversation_newest_first(
    client: httpx.AsyncClient, runtime: Runtime, dev: DevelopmentSetup, dev_headers: dict[str, str]
) -> None:
    await subscribe(client, dev_headers, dev_source(runtime, dev), phone=PHONE, email=EMAIL)
    await inbound(client, "Y")
    run_jobs(runtime)

    by_phone = await client.get("/admin/messages", params={"phone": PHONE}, headers=ADMIN)
    by_email = await client.get("/admin/messages", params={"email": EMAIL.upper()}, headers=ADMIN)

    assert by_phone.status_code == 200
    listed = by_phone.json()["messages"]
    assert [(m["direction"], m["type"], m["status"]) for m in listed] == [
        ("outbound", "WELCOME", "sent"),
        ("inbound", "INBOUND", "received"),
        ("outbound", "OPT_IN_CONFIRMATION", "sent"),
    ]
    assert listed[1]["from"] == PHONE and listed[0]["to"] == PHONE
    [email] = by_email.json()["messages"]
    assert email["channel"] == "EMAIL" and email["subject"].startswith("Welcome")
    assert_error_shape(
        await client.get("/admin/messages", params={"phone": "555"}, headers=ADMIN), 400
    )
    assert_error_shape(
        await client.get("/admin/messages", params={"limit": "0"}, headers=ADMIN), 400
    )
    assert_error_shape(await client.get("/admin/messages"), 401)


def test_cli_signup_sources_inbound_and_messages(
    runtime: Runtime, dev: DevelopmentSetup, database_url: str
) -> None:
    runner = CliRunner()
    url = ["--database-url", database_url]

    created = runner.invoke(
        cli,
        [
            "signup-source",
            "create",
            "--company",
            dev.company.name,
            "--name",
            "Club",
            "--type",
            "marketing",
            "--opt-in",
            "single",
            "--locale",
            "fr-CA",
            *url,
        ],
    )
    assert created.exit_code == 0, created.output
    source_id = created.stdout.splitlines()[0].removeprefix("id: ")
    listed = runner.invoke(cli, ["signup-source", "list", "--json", *url])
    assert source_id in listed.stdout and "API Marketing" in listed.stdout

    bad = runner.invoke(
        cli,
        [
            "signup-source",
            "create",
            "--company",
            dev.company.name,
            "--name",
            "x",
            "--opt-in",
            "triple",
            *url,
        ],
    )
    assert bad.exit_code == 1 and "opt-in" in bad.stderr

    with runtime.db.transaction() as session:
        from heedful.subscriptions import schemas
        from heedful.subscriptions import service as subs

        subs.subscribe(
            session,
            runtime.clock,
            dev.company.id,
            schemas.AddSubscriptionsRequestDto(
                user=schemas.UserDto1(phone=PHONE), signUpSourceId=source_id
            ),
        )
    stop = runner.invoke(cli, ["sms", "inbound", "--from", PHONE, "--text", "stop", *url])
    assert stop.exit_code == 0, stop.output
    assert "unsubscribed (MARKETING TEXT unsubscribed)" in stop.stdout

    shown = runner.invoke(cli, ["messages", "list", "--phone", PHONE, "--json", *url])
    assert shown.exit_code == 0, shown.output
    types = [line.strip() for line in shown.stdout.splitlines() if '"type"' in line]
    assert types == [
        '"type": "UNSUBSCRIBE_CONFIRMATION",',
        '"type": "INBOUND",',
        '"type": "WELCOME",',
    ]
    assert "Bienvenue" in shown.stdout  # the fr-CA source's welcome text

    unknown = runner.invoke(cli, ["sms", "inbound", "--from", "+15550001111", "--text", "Y", *url])
    assert unknown.exit_code == 1 and "No subscriber" in unknown.stderr


async def test_an_address_the_mail_library_cannot_write_fails_the_message_at_once(
    client: httpx.AsyncClient,
    runtime: Runtime,
    settings: Settings,
    db: Database,
    clock: FrozenClock,
    dev: DevelopmentSetup,
    dev_headers: dict[str, str],
    mailbox: tuple[Mailbox, int],
) -> None:
    box, port = mailbox
    # Accepted as an email by the API, but Python's email package cannot put it in a `To:`.
    response = await subscribe(client, dev_headers, dev_source(runtime, dev), email="a@[b.co")
    assert response.status_code == 202, response.text

    assert run_jobs(smtp_runtime(settings, db, clock, port)) == 1

    [failed] = messages(runtime)
    assert failed.status == "failed" and failed.attempts == 1 and failed.transport == "smtp"
    assert failed.last_error is not None and "cannot be written" in failed.last_error
    assert box.received == []
    with runtime.db.transaction() as session:
        assert {job.state for job in session.scalars(select(Job))} == {DONE}


async def test_a_password_smtp_cannot_send_fails_the_message_instead_of_queueing_it_for_ever(
    client: httpx.AsyncClient,
    runtime: Runtime,
    settings: Settings,
    db: Database,
    clock: FrozenClock,
    dev: DevelopmentSetup,
    dev_headers: dict[str, str],
    mailbox: tuple[Mailbox, int],
) -> None:
    box, port = mailbox
    await subscribe(client, dev_headers, dev_source(runtime, dev), email=EMAIL)
    # SMTP AUTH is ASCII: smtplib raises UnicodeEncodeError, which is no SMTPException.
    mailer = smtp_runtime(
        settings,
        db,
        clock,
        port,
        smtp_username=SMTP_USER,
        smtp_password=SecretStr("pässwörd"),
        message_max_attempts=2,
    )

    for _ in range(12):
        run_jobs(mailer)
        clock.advance(timedelta(hours=2))

    [failed] = messages(runtime)
    assert failed.status == "failed"
    assert failed.last_error is not None and "codec can't encode" in failed.last_error
    assert box.received == []


async def test_a_message_whose_send_job_dies_is_failed_with_the_jobs_error(
    client: httpx.AsyncClient,
    runtime: Runtime,
    dev: DevelopmentSetup,
    dev_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await subscribe(client, dev_headers, dev_source(runtime, dev), phone=PHONE)

    def broken(_transport: object, _message: object) -> None:
        raise RuntimeError("the transport broke")

    monkeypatch.setattr(SandboxTransport, "send", broken)
    for _ in range(12):
        run_jobs(runtime)
        runtime.clock.advance(timedelta(hours=2))  # type: ignore[attr-defined]

    [failed] = messages(runtime)
    assert failed.status == "failed"
    assert failed.last_error == "RuntimeError: the transport broke"
