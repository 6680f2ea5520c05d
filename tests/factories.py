"""make_* helpers that fill in unique values, so tests say only what matters to them."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from heedful.oauth import service
from heedful.oauth.scopes import KNOWN_SCOPES
from heedful.runtime import Runtime
from heedful.storage.models import Company

_counter = itertools.count(1)


@dataclass(frozen=True)
class Tenant:
    company: Company
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_company(runtime: Runtime, name: str | None = None) -> Company:
    with runtime.db.transaction() as session:
        return service.create_company(
            session, runtime.clock, name or f"Shop {next(_counter)}"
        ).company


def make_tenant(
    runtime: Runtime, scopes: list[str] | None = None, name: str | None = None
) -> Tenant:
    """A company with one application whose API key holds `scopes` (default: all)."""
    with runtime.db.transaction() as session:
        company = service.create_company(
            session, runtime.clock, name or f"Shop {next(_counter)}"
        ).company
        made = service.create_application(
            session,
            runtime.clock,
            company,
            f"app-{next(_counter)}",
            list(KNOWN_SCOPES) if scopes is None else scopes,
        )
        return Tenant(company, made.api_key)
