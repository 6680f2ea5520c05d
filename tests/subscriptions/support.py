"""Helpers: the dev company's sign-up sources, running the message jobs, reading the outbox."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from heedful.oauth.bootstrap import DevelopmentSetup
from heedful.runtime import Runtime
from heedful.storage.models import SignUpSource
from heedful.storage.models.messaging import Message
from heedful.storage.models.subscriptions import ConsentRecord, Subscription
from heedful.subscriptions import service
from tests.conftest import ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PHONE = "+13115552368"
EMAIL = "test@gmail.com"


def source_id(runtime: Runtime, company_id: int, subscription_type: str = "MARKETING") -> str:
    with runtime.db.transaction() as session:
        found = session.scalars(
            select(SignUpSource).where(
                SignUpSource.company_id == company_id,
                SignUpSource.subscription_type == subscription_type,
            )
        ).first()
        assert found is not None
        return service.SIGNUP_SOURCE.encode(found.id)


def make_source(
    runtime: Runtime,
    company_id: int,
    *,
    subscription_type: str = "MARKETING",
    opt_in: str = "double",
    locale: str = "en-US",
    name: str = "API source",
) -> str:
    with runtime.db.transaction() as session:
        made = service.create_signup_source(
            session, runtime.clock, company_id, name, subscription_type, opt_in, locale
        )
        return service.SIGNUP_SOURCE.encode(made.id)


def run_jobs(runtime: Runtime) -> int:
    return runtime.worker().run_until_idle()


def messages(runtime: Runtime, company_id: int | None = None) -> list[Message]:
    with runtime.db.transaction() as session:
        stmt = select(Message).order_by(Message.id)
        if company_id is not None:
            stmt = stmt.where(Message.company_id == company_id)
        return list(session.scalars(stmt))


def outbound_types(runtime: Runtime, company_id: int | None = None) -> list[str]:
    return [m.type for m in messages(runtime, company_id) if m.direction == "outbound"]


def subscriptions(runtime: Runtime) -> list[Subscription]:
    with runtime.db.transaction() as session:
        return list(session.scalars(select(Subscription).order_by(Subscription.id)))


def consent(runtime: Runtime) -> list[ConsentRecord]:
    with runtime.db.transaction() as session:
        return list(session.scalars(select(ConsentRecord).order_by(ConsentRecord.id)))


async def subscribe(
    client: httpx.AsyncClient, headers: dict[str, str], source: str, **user: Any
) -> httpx.Response:
    body: dict[str, Any] = {"user": user or {"phone": PHONE}, "signUpSourceId": source}
    return await client.post("/v1/subscriptions", json=body, headers=headers)


async def inbound(client: httpx.AsyncClient, text: str, phone: str = PHONE) -> httpx.Response:
    return await client.post(
        "/admin/sms/inbound", json={"from": phone, "text": text}, headers=ADMIN
    )


def dev_source(runtime: Runtime, dev: DevelopmentSetup, kind: str = "MARKETING") -> str:
    return source_id(runtime, dev.company.id, kind)
