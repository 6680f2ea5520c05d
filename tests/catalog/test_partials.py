"""Partial upload files: a dead process's leftovers are swept, a live writer's never are."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from heedful.catalog.files import PARTIAL_MIN_AGE_SECONDS, open_partial, remove_file, sweep_partials
from heedful.runtime import Runtime
from tests.catalog.live import LiveServer

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs fcntl locks")


def _later() -> float:
    """A moment at which every file made so far counts as old enough to sweep."""
    return time.time() + PARTIAL_MIN_AGE_SECONDS + 5


def _writer(final: Path) -> tuple[subprocess.Popen[str], Path]:
    """A process receiving a file into a partial beside `final`, as a PUT does, until killed."""
    code = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from heedful.catalog.files import open_partial
        path, handle = open_partial(Path({str(final)!r}))
        handle.write(b'{{"id": "1"}}\\n')
        handle.flush()
        print(path, flush=True)
        time.sleep(60)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    return process, Path(process.stdout.readline().strip())


def test_a_live_writers_partial_stays_and_a_killed_ones_goes(tmp_path: Path) -> None:
    process, partial = _writer(tmp_path / "upload.ndjson")
    try:
        assert partial.exists()
        assert sweep_partials(tmp_path, now=_later()) == 0
        assert partial.exists()
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert sweep_partials(tmp_path, now=_later()) == 1
    assert not partial.exists()


def test_an_unlocked_partial_younger_than_a_minute_stays(tmp_path: Path) -> None:
    # Its writer may have opened it and not locked it yet.
    path, handle = open_partial(tmp_path / "upload.ndjson")
    handle.close()
    assert sweep_partials(tmp_path) == 0
    assert path.exists()
    assert sweep_partials(tmp_path, now=_later()) == 1


def test_only_partials_are_swept(tmp_path: Path) -> None:
    kept = [tmp_path / "upload.ndjson", tmp_path / ".signing-secret", tmp_path / "notes.part"]
    for path in kept:
        path.write_text("x")
    assert sweep_partials(tmp_path, now=_later()) == 0
    assert all(path.exists() for path in kept)


def test_removing_a_finished_uploads_file_sweeps_the_leftovers_beside_it(tmp_path: Path) -> None:
    final = tmp_path / "done.ndjson"
    final.write_text("{}\n")
    leftover, handle = open_partial(tmp_path / "other.ndjson")
    handle.close()
    old = time.time() - PARTIAL_MIN_AGE_SECONDS - 5
    os.utime(leftover, (old, old))
    remove_file("local", {"path": str(final)})
    assert not final.exists()
    assert not leftover.exists()


def test_a_starting_server_sweeps_the_partials_a_dead_one_left(runtime: Runtime) -> None:
    upload_dir = Path(runtime.settings.catalog_upload_dir)
    leftover, handle = open_partial(upload_dir / "crashed.ndjson")
    handle.close()
    old = time.time() - PARTIAL_MIN_AGE_SECONDS - 5
    os.utime(leftover, (old, old))
    with LiveServer(runtime):
        assert not leftover.exists()
