"""Messaging: the outbound message outbox, templates, transports (sandbox, SMTP), `sms.sent`."""
