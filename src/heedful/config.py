"""Settings: one object, built once from `HEEDFUL_*` variables and `.env`, passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_URL = "sqlite:///.heedful/heedful.db"

# Per-operation limits the vendor documents (requests per token per operation per second).
DOCUMENTED_RATE_LIMITS: dict[str, int] = {
    "identify": 10,
    "addSubscriptions": 10,
    "unsubscribeSubscriptions": 5,
    "postUpload": 1,
}


class Settings(BaseSettings):
    """Everything heedful can be told. Defaults run on an embedded SQLite file."""

    model_config = SettingsConfigDict(
        env_prefix="HEEDFUL_", env_file=".env", extra="ignore", frozen=True
    )

    env: Literal["development", "production"] = "development"
    database_url: str = DEFAULT_SQLITE_URL
    host: str = "127.0.0.1"
    port: int = 8787
    base_url: str = ""
    log_level: str = "INFO"

    admin_token: SecretStr | None = None
    bootstrap_token: SecretStr | None = None

    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1)

    rate_limits: Literal["on", "off"] = "on"
    rate_limit_default: int = Field(default=150, ge=1)
    rate_limit_overrides: dict[str, int] = Field(default_factory=dict)

    job_poll_interval: float = Field(default=0.5, gt=0)
    job_max_attempts: int = Field(default=8, ge=1)
    job_backoff_base: float = Field(default=2.0, gt=0)
    job_backoff_cap: float = Field(default=3600.0, gt=0)
    job_lease_seconds: float = Field(default=300.0, gt=0)

    @field_validator("rate_limits", mode="before")
    @classmethod
    def _normalise_switch(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def public_base_url(self) -> str:
        return self.base_url.rstrip("/") or f"http://{self.host}:{self.port}"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def rate_limit_for(self, operation_id: str) -> int | None:
        """Requests per second allowed for one token on one operation; None when limits are off."""
        if self.rate_limits == "off":
            return None
        if operation_id in self.rate_limit_overrides:
            return self.rate_limit_overrides[operation_id]
        return DOCUMENTED_RATE_LIMITS.get(operation_id, self.rate_limit_default)

    def sqlite_path(self) -> Path | None:
        prefix = "sqlite:///"
        if not self.database_url.startswith(prefix):
            return None
        raw = self.database_url[len(prefix) :]
        return None if raw in ("", ":memory:") else Path(raw)
