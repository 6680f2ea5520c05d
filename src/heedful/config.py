"""Settings: one object, built once from `HEEDFUL_*` variables and `.env`, passed down."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import phonenumbers
from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from heedful.spec import operation_ids

DEFAULT_SQLITE_URL = "sqlite:///.heedful/heedful.db"

# Per-operation limits the vendor documents (requests per token per operation per second).
DOCUMENTED_RATE_LIMITS: dict[str, int] = {
    "identify": 10,
    "addSubscriptions": 10,
    "unsubscribeSubscriptions": 5,
    "postUpload": 1,
}


# oauth: values of HEEDFUL_SECRET_KEY that are refused outside development.
PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "secret", "placeholder", "dev"})
MIN_SECRET_KEY_LENGTH = 32

# Every duration setting is at most a century: a moment that far ahead is still a date Python
# (and the databases) can hold, and a timeout that long still fits the OS's timers. Larger,
# `now + duration` overflowed at run time (a 500 on every token exchange, a dead dispatcher).
MAX_SECONDS = 100 * 365 * 86400


class Settings(BaseSettings):
    """Everything heedful can be told. Defaults run on an embedded SQLite file."""

    model_config = SettingsConfigDict(
        env_prefix="HEEDFUL_", env_file=".env", extra="ignore", frozen=True
    )

    env: Literal["development", "production"] = "development"
    database_url: str = DEFAULT_SQLITE_URL
    host: str = "127.0.0.1"
    # Bounded: out of range, the socket layer wraps it (70000 would be served on 4464).
    port: int = Field(default=8787, ge=1, le=65535)
    base_url: str = ""
    # The levels both logging and uvicorn know (uvicorn has no WARN, logging no TRACE).
    log_level: Literal["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"] = "INFO"

    admin_token: SecretStr | None = None
    bootstrap_token: SecretStr | None = None

    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1)
    # Stalled clients (slowloris): a connection closes when its request headers are not all in
    # this long after it opened (or after the previous answer); a body that pauses longer than
    # the body timeout is a 408. Either way a socket cannot be held open by sending nothing.
    header_timeout_seconds: float = Field(default=10.0, gt=0, le=MAX_SECONDS)
    body_timeout_seconds: float = Field(default=30.0, gt=0, le=MAX_SECONDS)

    rate_limits: Literal["on", "off"] = "on"
    rate_limit_default: int = Field(default=150, ge=1)
    rate_limit_overrides: dict[str, Annotated[int, Field(ge=1)]] = Field(default_factory=dict)

    job_poll_interval: float = Field(default=0.5, gt=0, le=MAX_SECONDS)
    job_max_attempts: int = Field(default=8, ge=1)
    job_backoff_base: float = Field(default=2.0, gt=0, le=MAX_SECONDS)
    job_backoff_cap: float = Field(default=3600.0, gt=0, le=MAX_SECONDS)
    job_lease_seconds: float = Field(default=300.0, gt=0, le=MAX_SECONDS)

    # events: how long the high-rate ingestion operations reuse a token lookup (0: off)
    auth_cache_seconds: float = Field(default=1.0, ge=0, le=MAX_SECONDS)

    # catalog: where upload files go, how upload URLs are signed, how files are processed
    catalog_storage: Literal["local", "s3"] = "local"
    catalog_upload_dir: str = ".heedful/catalog-uploads"
    # Signs local upload URLs; unset: a random secret persisted in the upload dir.
    catalog_signing_secret: SecretStr | None = None
    catalog_upload_ttl: float = Field(default=3600.0, gt=0, le=MAX_SECONDS)
    catalog_max_upload_bytes: int = Field(default=2 * 1024**3, ge=1)
    catalog_chunk_lines: int = Field(default=10_000, ge=1)
    catalog_s3_bucket: str = ""
    catalog_s3_prefix: str = "catalog-uploads/"
    catalog_s3_endpoint_url: str = ""
    catalog_s3_region: str = "us-east-1"
    catalog_s3_poll_interval: float = Field(default=2.0, gt=0, le=MAX_SECONDS)

    # webhooks: delivery timeout, retry schedule, auto-disable, SSRF allow-list, throughput
    webhook_timeout: float = Field(default=10.0, gt=0, le=MAX_SECONDS)
    webhook_retry_base: float = Field(default=10.0, gt=0, le=MAX_SECONDS)
    webhook_retry_factor: float = Field(default=2.0, ge=1)
    webhook_retry_cap: float = Field(default=6 * 3600.0, gt=0, le=MAX_SECONDS)
    webhook_retry_window: float = Field(default=3 * 86400.0, ge=0, le=MAX_SECONDS)
    webhook_disable_after_failures: int = Field(default=100, ge=1)
    webhook_disable_after_seconds: float = Field(default=86400.0, ge=0, le=MAX_SECONDS)
    webhook_allow_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    webhook_concurrency: int = Field(default=16, ge=1)
    webhook_batch_size: int = Field(default=100, ge=1)
    webhook_poll_interval: float = Field(default=0.25, gt=0, le=MAX_SECONDS)

    @field_validator("webhook_allow_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        # HEEDFUL_WEBHOOK_ALLOW_HOSTS="hooks.internal,10.0.0.0/8": comma-separated.
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    # oauth: the key that signs consent-page sessions, OAuth access-token lifetime (0: none)
    secret_key: SecretStr = Field(default=SecretStr(""), validate_default=True)
    oauth_token_ttl: int = Field(default=0, ge=0, le=MAX_SECONDS)

    # privacy: delay before a delete request is processed (seconds; 0: at once), the key of the
    # audit hashes kept instead of raw identifiers, the region of phones sent without "+"
    privacy_delete_delay: float = Field(default=0.0, ge=0, le=MAX_SECONDS)
    privacy_hash_key: SecretStr | None = None
    privacy_phone_region: str = Field(default="US", pattern=r"^[A-Z]{2}$")

    # messaging: how emails leave (texts always go to the sandbox: there is no carrier) and SMTP
    email_transport: Literal["sandbox", "smtp"] = "sandbox"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_tls: Literal["none", "starttls", "ssl"] = "none"
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_from: str = "heedful@localhost"
    smtp_timeout: float = Field(default=5.0, gt=0, le=MAX_SECONDS)
    message_max_attempts: int = Field(default=5, ge=1)
    message_retry_base: float = Field(default=30.0, gt=0, le=MAX_SECONDS)

    @field_validator("secret_key", mode="after")
    @classmethod
    def _secret_key_outside_development(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        text = value.get_secret_value()
        if info.data.get("env", "development") == "development":
            # Unset in development: a random key per process (consent sessions reset on restart).
            placeholder = not text or text.lower() in PLACEHOLDER_SECRETS
            return SecretStr(secrets.token_urlsafe(32)) if placeholder else value
        if text.lower() in PLACEHOLDER_SECRETS or len(text) < MIN_SECRET_KEY_LENGTH:
            raise ValueError(
                f"HEEDFUL_SECRET_KEY must be set to a random value of at least "
                f"{MIN_SECRET_KEY_LENGTH} characters outside development"
            )
        return value

    @field_validator("admin_token", "catalog_signing_secret", mode="after")
    @classmethod
    def _strong_outside_development(
        cls, value: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        # The admin token opens every company's data; the signing secret forges upload URLs.
        if value is None or info.data.get("env", "development") == "development":
            return value
        text = value.get_secret_value()
        if text.lower() in PLACEHOLDER_SECRETS or len(text) < MIN_SECRET_KEY_LENGTH:
            raise ValueError(
                f"must be a random value of at least {MIN_SECRET_KEY_LENGTH} characters "
                "outside development (or unset)"
            )
        return value

    @field_validator("rate_limits", mode="before")
    @classmethod
    def _normalise_switch(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("rate_limit_overrides", mode="after")
    @classmethod
    def _known_operations(cls, value: dict[str, int]) -> dict[str, int]:
        # A misspelt operationId would be ignored without a word, leaving the old limit.
        unknown = sorted(set(value) - operation_ids())
        if unknown:
            raise ValueError(f"not an operationId of the spec: {', '.join(unknown)}")
        return value

    @field_validator("base_url", mode="after")
    @classmethod
    def _http_url(cls, value: str) -> str:
        # It starts every local uploadUrl and is the OAuth issuer: "host:port" without a
        # scheme would hand out URLs no client can use.
        parts = urlsplit(value.strip())
        if value.strip() and (parts.scheme not in ("http", "https") or not parts.hostname):
            raise ValueError("must be an http(s) URL, e.g. https://heedful.example.com")
        return value.strip()

    @field_validator("privacy_phone_region", mode="after")
    @classmethod
    def _known_region(cls, value: str) -> str:
        # Unknown (`UK` for GB), every national number in a privacy request would be a 400.
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value} is not a known ISO 3166 region code (e.g. US, GB)")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _normalise_level(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _s3_needs_a_bucket(self) -> Settings:
        # Without one, S3 refuses to presign the URL: every postUpload would be a 500.
        if self.catalog_storage == "s3" and not self.catalog_s3_bucket.strip():
            raise ValueError("catalog_s3_bucket (HEEDFUL_CATALOG_S3_BUCKET) is needed with s3")
        return self

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
