"""Fixtures: a real SMTP server (aiosmtpd) on 127.0.0.1, and a runtime that mails through it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from heedful.config import Settings
from heedful.core.clock import FrozenClock
from heedful.runtime import Runtime, build_job_registry
from heedful.storage.db import Database

SMTP_USER, SMTP_PASSWORD = "mailer", "s3cret-pass"


@dataclass
class Mailbox:
    """What the SMTP server accepted: envelopes and parsed messages; who logged in."""

    received: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(),
            auth_data.password.decode(),
        ) == (SMTP_USER, SMTP_PASSWORD):
            self.logins.append(auth_data.login.decode())
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        authenticator=box.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"rate_limits": "off"})


def smtp_runtime(
    settings: Settings, db: Database, clock: FrozenClock, port: int, **overrides: Any
) -> Runtime:
    configured = settings.model_copy(
        update={
            "email_transport": "smtp",
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_from": "shop@heedful.test",
            "smtp_timeout": 2.0,
            **overrides,
        }
    )
    return Runtime(configured, db, clock, build_job_registry(configured))
