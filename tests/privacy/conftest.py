"""Fixtures for the privacy tests: a worker to run due jobs, the subject and the API path."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from heedful.runtime import Runtime

PATH = "/v1/privacy/delete-request"


@pytest.fixture
def run_jobs(runtime: Runtime) -> Callable[[], int]:
    """Run every job due now (by the test clock); returns how many ran."""
    worker = runtime.worker()
    return worker.run_until_idle
