from __future__ import annotations

import httpx
import pytest

from heedful.app import create_app
from heedful.config import Settings
from heedful.errors import RateLimited
from heedful.http.ratelimit import RateLimiter
from heedful.runtime import Runtime
from tests.factories import make_tenant
from tests.http.test_errors import assert_error_shape


class StoppedTime:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def limited_runtime(runtime: Runtime, time: StoppedTime, **overrides: object) -> Runtime:
    settings = runtime.settings.model_copy(update=overrides)
    limited = Runtime(settings, runtime.db, runtime.clock, runtime.jobs)
    limited.limiter = RateLimiter(settings.rate_limit_for, now=time)
    return limited


async def call_me(runtime: Runtime, headers: dict[str, str], times: int) -> list[httpx.Response]:
    transport = httpx.ASGITransport(
        app=create_app(runtime.settings, runtime), raise_app_exceptions=False
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        return [await http.get("/v1/me", headers=headers) for _ in range(times)]


async def test_headers_count_down_then_429(runtime: Runtime, dev_headers: dict[str, str]) -> None:
    time = StoppedTime(1000.25)
    limited = limited_runtime(runtime, time, rate_limit_overrides={"getMe": 3})

    responses = await call_me(limited, dev_headers, 4)

    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert [r.headers["x-ratelimit-limit"] for r in responses] == ["3"] * 4
    assert [r.headers["x-ratelimit-remaining"] for r in responses] == ["2", "1", "0", "0"]
    assert_error_shape(responses[3], 429)
    assert responses[3].headers["retry-after"] == "1"


async def test_window_resets_next_second(runtime: Runtime, dev_headers: dict[str, str]) -> None:
    time = StoppedTime(2000.9)
    limited = limited_runtime(runtime, time, rate_limit_overrides={"getMe": 1})
    assert [r.status_code for r in await call_me(limited, dev_headers, 2)] == [200, 429]

    time.now = 2001.0

    assert [r.status_code for r in await call_me(limited, dev_headers, 1)] == [200]


async def test_limits_are_per_token(runtime: Runtime, dev_headers: dict[str, str]) -> None:
    limited = limited_runtime(runtime, StoppedTime(5.5), rate_limit_overrides={"getMe": 1})
    other = make_tenant(runtime)

    assert (await call_me(limited, dev_headers, 1))[0].status_code == 200
    assert (await call_me(limited, other.headers, 1))[0].status_code == 200
    assert (await call_me(limited, dev_headers, 1))[0].status_code == 429


async def test_off_switch_removes_limits(runtime: Runtime, dev_headers: dict[str, str]) -> None:
    limited = limited_runtime(
        runtime, StoppedTime(7.0), rate_limits="off", rate_limit_overrides={"getMe": 1}
    )

    responses = await call_me(limited, dev_headers, 5)

    assert all(r.status_code == 200 for r in responses)
    assert "x-ratelimit-limit" not in responses[0].headers


async def test_error_responses_after_auth_carry_the_headers(runtime: Runtime) -> None:
    limited = limited_runtime(runtime, StoppedTime(9.0))
    transport = httpx.ASGITransport(
        app=create_app(limited.settings, limited), raise_app_exceptions=False
    )
    tenant = make_tenant(runtime, scopes=[])
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.delete("/v1/me", headers=tenant.headers)
    # 405 comes from the router before authentication, so it has no allowance to report.
    assert response.status_code == 405


def test_documented_limits() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]

    assert settings.rate_limit_for("getMe") == 150
    assert settings.rate_limit_for("identify") == 10
    assert settings.rate_limit_for("addSubscriptions") == 10
    assert settings.rate_limit_for("unsubscribeSubscriptions") == 5
    assert settings.rate_limit_for("postUpload") == 1


def test_env_configures_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEEDFUL_RATE_LIMIT_OVERRIDES", '{"postUpload": 4}')
    monkeypatch.setenv("HEEDFUL_RATE_LIMIT_DEFAULT", "20")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.rate_limit_for("postUpload") == 4
    assert settings.rate_limit_for("getMe") == 20

    monkeypatch.setenv("HEEDFUL_RATE_LIMITS", "OFF")
    assert Settings(_env_file=None).rate_limit_for("getMe") is None  # type: ignore[call-arg]


def test_limiter_raises_with_headers() -> None:
    limiter = RateLimiter(lambda _op: 1, now=lambda: 10.75)
    limiter.hit(1, "getMe")
    with pytest.raises(RateLimited) as caught:
        limiter.hit(1, "getMe")
    assert caught.value.headers == {
        "x-ratelimit-limit": "1",
        "x-ratelimit-remaining": "0",
        "Retry-After": "1",
    }
