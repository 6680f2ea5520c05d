"""Transports: how an outbound message leaves heedful.

- `sandbox` (the default, and always for texts: there is no carrier): the message is marked
  sent and a log line records it.
- `smtp` (emails, `HEEDFUL_EMAIL_TRANSPORT=smtp`): a real SMTP conversation with the server in
  `HEEDFUL_SMTP_*` (plain, STARTTLS or implicit TLS; optional login).
"""

from __future__ import annotations

import email.errors
import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Protocol

from heedful.config import Settings

log = logging.getLogger("heedful.messaging")

SANDBOX = "sandbox"
SMTP = "smtp"


@dataclass(frozen=True)
class Outgoing:
    public_id: str
    channel: str
    type: str
    to: str
    body: str
    subject: str | None
    sender_name: str


class TransportError(Exception):
    """The message could not be handed over; it may be retried."""


class UnsendableMessage(TransportError):
    """The message can never be handed over as it is (retrying cannot help)."""


class Transport(Protocol):
    @property
    def name(self) -> str: ...

    def send(self, message: Outgoing) -> None: ...


class SandboxTransport:
    name = SANDBOX

    def send(self, message: Outgoing) -> None:
        # Neither the address nor the text goes to the log: they are the subscriber's data
        # (see them with `heedful messages list`).
        log.info(
            "sandbox: message sent",
            extra={
                "message_id": message.public_id,
                "channel": message.channel,
                "type": message.type,
            },
        )


@dataclass(frozen=True)
class SmtpTransport:
    host: str
    port: int
    tls: str  # none | starttls | ssl
    username: str
    password: str = field(repr=False)
    sender: str
    timeout: float
    name: str = SMTP

    def send(self, message: Outgoing) -> None:
        mail = self._build(message)
        try:
            client: smtplib.SMTP
            if self.tls == "ssl":
                client = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    timeout=self.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                if self.tls == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if self.username:
                    client.login(self.username, self.password)
                client.send_message(mail, from_addr=self.sender, to_addrs=[message.to])
        except (smtplib.SMTPException, OSError) as exc:
            raise TransportError(f"SMTP {self.host}:{self.port}: {exc}") from exc

    def _build(self, message: Outgoing) -> EmailMessage:
        # The API accepts some addresses (`a@[b.co`) that the email package cannot write into
        # a header: it raises ValueError, a MessageError or even AttributeError (a CPython
        # bug). Left unwrapped, that failed the job and kept the message `queued` forever.
        try:
            mail = EmailMessage()
            mail["From"] = formataddr((message.sender_name, self.sender))
            mail["To"] = message.to
            mail["Subject"] = message.subject or ""
            mail["Message-ID"] = make_msgid(idstring=message.public_id)
            mail["X-Heedful-Message-Id"] = message.public_id
            mail.set_content(message.body)
        except (ValueError, AttributeError, email.errors.MessageError) as exc:
            raise UnsendableMessage(f"the email cannot be written: {exc}") from exc
        return mail


@dataclass(frozen=True)
class Transports:
    text: Transport
    email: Transport

    def for_channel(self, channel: str) -> Transport:
        return self.email if channel == "EMAIL" else self.text


def build_transports(settings: Settings | None) -> Transports:
    """From settings; without any (a registry built bare), both channels use the sandbox."""
    sandbox = SandboxTransport()
    if settings is None or settings.email_transport == SANDBOX:
        return Transports(sandbox, sandbox)
    smtp = SmtpTransport(
        host=settings.smtp_host,
        port=settings.smtp_port,
        tls=settings.smtp_tls,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value(),
        sender=settings.smtp_from,
        timeout=settings.smtp_timeout,
    )
    return Transports(sandbox, smtp)
