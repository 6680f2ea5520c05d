"""Catalog fixtures: settings with a per-test upload folder, small chunks, a worker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from heedful.catalog import service
from heedful.config import Settings
from heedful.jobs.worker import Worker, WorkerPolicy
from heedful.runtime import Runtime


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={
            "catalog_upload_dir": str(tmp_path / "uploads"),
            "catalog_chunk_lines": 4,
            "rate_limit_overrides": {"postUpload": 1000},
        }
    )


@pytest.fixture
def worker(runtime: Runtime) -> Worker:
    return Worker(runtime.db, runtime.jobs, runtime.clock, WorkerPolicy(max_attempts=3))


@pytest.fixture(autouse=True)
def no_validation_states_left() -> Iterator[None]:
    """Validation states live in this process's memory, and a state left by one test (its
    upload never finished) would hold one of the few slots in the next."""
    yield
    service._validations.clear()
