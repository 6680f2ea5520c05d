"""Fixtures for the contract tests: the real app and what it implements."""

from __future__ import annotations

import pytest
from starlette.routing import BaseRoute

from heedful.app import create_app
from heedful.config import Settings
from heedful.http.middleware import ObservedRequests
from heedful.ops.coverage import app_routes
from heedful.ops.spec import implemented_operation_ids
from heedful.runtime import Runtime


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings with rate limits off.

    Fuzzing sends hundreds of requests a second, and the limiter counts wall-clock seconds: with
    limits on, answers would turn into 429s depending on machine speed (and some operations do not
    declare 429). tests/http covers the limiter.
    """
    return settings.model_copy(update={"rate_limits": "off"})


@pytest.fixture
def app(runtime: Runtime) -> ObservedRequests:
    """The application exactly as `create_app` builds it, over the test runtime."""
    return create_app(runtime.settings, runtime)


@pytest.fixture
def routes(app: ObservedRequests) -> list[BaseRoute]:
    return app_routes(app)


@pytest.fixture
def implemented(routes: list[BaseRoute]) -> set[str]:
    """operationIds the app serves today; every contract test follows this set."""
    found = implemented_operation_ids(routes)
    assert found, "the app implements no operation at all"
    return found
