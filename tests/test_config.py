"""Settings are checked when they are read, not when a request first uses them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from heedful.config import MAX_SECONDS, Settings

DURATIONS = [
    name
    for name, field in Settings.model_fields.items()
    if any(getattr(rule, "le", None) == MAX_SECONDS for rule in field.metadata)
]


def test_every_duration_setting_is_bounded() -> None:
    expected = {
        "job_poll_interval",
        "job_lease_seconds",
        "auth_cache_seconds",
        "catalog_upload_ttl",
        "webhook_timeout",
        "webhook_retry_window",
        "privacy_delete_delay",
        "smtp_timeout",
        "oauth_token_ttl",
        "header_timeout_seconds",
        "body_timeout_seconds",
    }
    assert expected <= set(DURATIONS)


@pytest.mark.parametrize("name", ["header_timeout_seconds", "body_timeout_seconds"])
@pytest.mark.parametrize("value", [0, -1])
def test_request_timeouts_must_be_positive(name: str, value: int) -> None:
    # 0 would close every connection before its first request, or 408 every body.
    with pytest.raises(ValidationError, match=name):
        Settings(**{name: value})


@pytest.mark.parametrize("name", DURATIONS)
def test_a_duration_no_date_can_hold_is_refused(name: str) -> None:
    with pytest.raises(ValidationError, match=name):
        Settings(**{name: 10**12})

    assert getattr(Settings(**{name: MAX_SECONDS}), name) == MAX_SECONDS


def test_log_level_is_a_level_logging_and_uvicorn_both_know() -> None:
    # Unknown, `serve` and `worker` died with a traceback when they configured logging.
    with pytest.raises(ValidationError, match="log_level"):
        Settings(log_level="LOUD")
    with pytest.raises(ValidationError, match="log_level"):
        Settings(log_level="WARN")  # logging knows it, uvicorn does not

    assert Settings(log_level="warning").log_level == "WARNING"


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"getMe": 0}, "getMe"),  # every call was answered 429
        ({"identify": -5}, "identify"),  # ... with `x-ratelimit-limit: -5`
        ({"postUploads": 4}, "postUploads"),  # a typo was ignored: the documented 1 applied
    ],
)
def test_rate_limit_overrides_name_operations_and_allow_at_least_one(
    overrides: dict[str, int], says: str
) -> None:
    with pytest.raises(ValidationError, match=says):
        Settings(rate_limit_overrides=overrides)

    limits = {"createTokenViaAuthorizationCode": 2, "postUpload": 1}
    assert Settings(rate_limit_overrides=limits).rate_limit_overrides == limits


@pytest.mark.parametrize("region", ["UK", "XX"])
def test_privacy_phone_region_is_a_region_phone_numbers_have(region: str) -> None:
    # Accepted, it made every privacy request with a national number a 400.
    with pytest.raises(ValidationError, match="privacy_phone_region"):
        Settings(privacy_phone_region=region)

    assert Settings(privacy_phone_region="GB").privacy_phone_region == "GB"


def test_s3_catalog_storage_needs_a_bucket() -> None:
    # Without one, every postUpload answered 500 (boto refused the empty bucket name).
    with pytest.raises(ValidationError, match="catalog_s3_bucket"):
        Settings(catalog_storage="s3")

    assert Settings(catalog_storage="s3", catalog_s3_bucket="catalogs").catalog_s3_bucket


@pytest.mark.parametrize(
    "url", ["127.0.0.1:8787", "heedful.example.com", "ftp://files.example", "http://"]
)
def test_base_url_is_an_http_url(url: str) -> None:
    # Accepted, it made every local uploadUrl (`<base>/uploads/...`) one no client can PUT to.
    with pytest.raises(ValidationError, match="base_url"):
        Settings(base_url=url)

    assert Settings(base_url="https://heedful.example.com/").public_base_url == (
        "https://heedful.example.com"
    )


STRONG = "k" * 32


@pytest.mark.parametrize("setting", ["admin_token", "catalog_signing_secret"])
@pytest.mark.parametrize("value", ["changeme", "s3cret", "", "k" * 31])
def test_production_refuses_a_weak_admin_token_or_signing_secret(setting: str, value: str) -> None:
    with pytest.raises(ValidationError, match=setting):
        Settings(_env_file=None, env="production", secret_key=STRONG, **{setting: value})  # type: ignore[call-arg, arg-type]


@pytest.mark.parametrize("setting", ["admin_token", "catalog_signing_secret"])
def test_strong_or_unset_admin_token_and_signing_secret_pass_anywhere(setting: str) -> None:
    production = Settings(_env_file=None, env="production", secret_key=STRONG, **{setting: STRONG})  # type: ignore[call-arg, arg-type]
    assert getattr(production, setting).get_secret_value() == STRONG
    unset = Settings(_env_file=None, env="production", secret_key=STRONG)  # type: ignore[call-arg, arg-type]
    assert getattr(unset, setting) is None
    development = Settings(_env_file=None, **{setting: "s3cret"})  # type: ignore[call-arg, arg-type]
    assert getattr(development, setting).get_secret_value() == "s3cret"
