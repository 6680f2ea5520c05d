"""Catalog benchmark: validation alone, the full upload-to-`completed` path, and a jsonschema
baseline of the same rules, measured in one run.

    flock /tmp/heedful-bench.lock .venv/bin/python bench/catalog.py            # 500,000
    flock /tmp/heedful-bench.lock .venv/bin/python bench/catalog.py --products 100000

Each phase runs in its own process so its peak RSS is its own; peak RSS is the largest sum,
sampled every 0.25 s, of the phase process and all its children (the worker pool). CPU
seconds include the children's. The generated file is kept in --dir and reused when it
already has the requested number of products.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BASELINE_LINES = 20_000


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class TreeRss:
    """Samples the resident memory of this process plus all its descendants; keeps the peak."""

    def __init__(self, interval: float = 0.25) -> None:
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)

    def __enter__(self) -> TreeRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, peak_rss_mb())

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.peak_mb = max(self.peak_mb, _tree_rss_mb(os.getpid()))


def _tree(root: int) -> list[int]:
    """`root` and its descendants, through /proc's children lists (cheap, so sampling does
    not slow the measured work; the pool's workers are children of its forkserver)."""
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as children:
                    pending.extend(int(child) for child in children.read().split())
        except (OSError, ValueError):
            continue
    return found


def _tree_rss_mb(root: int) -> float:
    total = 0
    for pid in _tree(root):
        try:
            with open(f"/proc/{pid}/statm") as statm:
                total += int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue
    return total / 1024 / 1024


def tree_cpu_seconds() -> float:
    """CPU time of this process and its live descendants (call before the pool stops)."""
    ticks = 0
    for pid in _tree(os.getpid()):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, ValueError, IndexError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def stop_pool() -> None:
    """Stop the worker pool and its processes before the phase reports."""
    from heedful.catalog import parallel

    if parallel._pool is not None:
        parallel._pool.shutdown(wait=True)


# --- the file --------------------------------------------------------------------------------


def ensure_file(directory: Path, products: int) -> Path:
    from heedful.catalog.sample import generate_lines

    path = directory / f"catalog-{products}.ndjson"
    if path.exists():
        return path
    partial = path.with_suffix(".part")
    with partial.open("wb", buffering=1024 * 1024) as out:
        for line in generate_lines(products):
            out.write(line + b"\n")
    partial.rename(path)
    return path


# --- phase: validation alone -----------------------------------------------------------------


def phase_validate(path: Path, workers: int | None = None) -> dict[str, Any]:
    """What `heedful catalog validate FILE` runs: one worker process per core by default."""
    from heedful.catalog.parallel import default_workers
    from heedful.catalog.validator import validate_stream

    with TreeRss() as rss:
        started = time.perf_counter()
        with path.open("rb", buffering=1024 * 1024) as stream:
            report = validate_stream(stream, now=datetime.now(UTC), workers=workers)
        seconds = time.perf_counter() - started
        cpu = tree_cpu_seconds()
        stop_pool()
    assert report.ok, report.tally.counts
    return {
        "workers": default_workers() if workers is None else workers,
        "products": report.products_received,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "products_per_s": round(report.products_received / seconds),
        "peak_rss_mb": round(rss.peak_mb, 1),
    }


def _decode_only(block: Any) -> int:
    """A block's lines through the validator's typed decoder and nothing else."""
    from heedful.catalog.validator import MAX_LINE_BYTES, block_lines, decode_product

    lines = block_lines(block.attached(), MAX_LINE_BYTES)
    return sum(decode_product(raw) is not None for _, raw in lines if raw)


def phase_ceiling(path: Path) -> dict[str, Any]:
    """The same blocks and workers, only decoding each line into the typed structs (msgspec,
    in C): no pattern or cross-field check, no ids. What validation cannot beat here."""
    from heedful.catalog.parallel import ordered_map
    from heedful.catalog.validator import file_path, read_blocks

    started = time.perf_counter()
    with path.open("rb", buffering=1024 * 1024) as stream:
        blocks = read_blocks(stream, path=file_path(stream))
        decoded = sum(ordered_map(_decode_only, blocks))
    seconds = time.perf_counter() - started
    cpu = tree_cpu_seconds()
    stop_pool()
    return {
        "products": decoded,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "products_per_s": round(decoded / seconds),
    }


def phase_validate_one(path: Path) -> dict[str, Any]:
    """The same in this process alone, for comparison."""
    return phase_validate(path, workers=0)


# --- phase: jsonschema baseline vs ours on the same lines ------------------------------------

_URL = {"type": "string", "maxLength": 2048, "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^\\s/?#]+"}
_TS = {"type": "string", "format": "date-time"}
_NAME = {"type": "string", "maxLength": 256}
_POS = {"type": "integer", "minimum": 0}


def _strings(count: int, length: int) -> dict[str, Any]:
    return {"type": "array", "maxItems": count, "items": {"type": "string", "maxLength": length}}


def _object(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


_ATTRIBUTES = {
    "type": "array",
    "maxItems": 100,
    "items": _object(
        ["name", "value"],
        name={"type": "string", "maxLength": 64},
        value={"type": "string", "maxLength": 256},
    ),
}
_AMOUNT = {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?$", "maxLength": 64}
SCHEMA = _object(
    ["id", "name", "link", "lastUpdated", "variants"],
    id={"type": "string", "minLength": 1, "maxLength": 256},
    name=_NAME,
    link=_URL,
    lastUpdated=_TS,
    description={"type": "string", "maxLength": 1024},
    brand=_NAME,
    categories=_strings(100, 750),
    tags=_strings(250, 64),
    collections=_strings(50, 256),
    productOptions={
        "type": "array",
        "maxItems": 25,
        "items": _object(
            ["name", "position", "values"],
            name=_NAME,
            position=_POS,
            values={"type": "array", "maxItems": 200, "items": _NAME},
        ),
    },
    images={
        "type": "array",
        "maxItems": 250,
        "items": _object(
            ["src"],
            src=_URL,
            alt={"type": "string", "maxLength": 512},
            width={"type": "integer", "minimum": 0},
            height={"type": "integer", "minimum": 0},
            variantIds={"type": "array", "maxItems": 200, "items": {"type": "string"}},
            position=_POS,
        ),
    },
    attributes=_ATTRIBUTES,
    variants={
        "type": "array",
        "minItems": 1,
        "maxItems": 200,
        "items": _object(
            ["id", "name", "link", "lastUpdated", "availableForPurchase", "prices"],
            id={"type": "string", "minLength": 1, "maxLength": 256},
            name=_NAME,
            link=_URL,
            lastUpdated=_TS,
            availableForPurchase={"type": "boolean"},
            position=_POS,
            inventoryQuantity={"type": "integer"},
            prices={
                "type": "array",
                "minItems": 1,
                "maxItems": 50,
                "items": _object(
                    ["currencyCode", "amount"],
                    currencyCode={"type": "string", "pattern": "^[A-Z]{3}$"},
                    amount=_AMOUNT,
                    compareAtPrice=_AMOUNT,
                    activeTime=_TS,
                    expirationTime=_TS,
                ),
            },
            productOptionValues={
                "type": "array",
                "maxItems": 25,
                "items": _object(
                    ["productOptionName", "value"], productOptionName=_NAME, value=_NAME
                ),
            },
            attributes=_ATTRIBUTES,
        ),
    },
)


def _jsonschema_line(validator: Any, raw: bytes) -> bool:
    """The straightforward way: json.loads, schema, then the same cross-field checks."""
    try:
        data = json.loads(raw)
    except ValueError:
        return False
    if next(validator.iter_errors(data), None) is not None:
        return False
    variant_ids = [variant["id"] for variant in data["variants"]]
    if len(set(variant_ids)) != len(variant_ids):
        return False
    known = set(variant_ids)
    return all(v in known for image in data.get("images", []) for v in image.get("variantIds", []))


def phase_baseline(path: Path) -> dict[str, Any]:
    import jsonschema

    from heedful.catalog.validator import CatalogError, check_line

    with path.open("rb") as handle:
        lines = [handle.readline().rstrip(b"\n") for _ in range(BASELINE_LINES)]
    validator = jsonschema.Draft202012Validator(
        SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    started = time.perf_counter()
    theirs = sum(_jsonschema_line(validator, raw) for raw in lines)
    baseline = time.perf_counter() - started
    started = time.perf_counter()
    ours = sum(not isinstance(check_line(raw, n), CatalogError) for n, raw in enumerate(lines, 1))
    mine = time.perf_counter() - started
    assert theirs == ours == len(lines), (theirs, ours)
    return {
        "lines": len(lines),
        "jsonschema_per_s": round(len(lines) / baseline),
        "heedful_per_s": round(len(lines) / mine),
        "ratio": round(baseline / mine, 1),
    }


# --- phase: the full path, upload URL to `completed` -----------------------------------------


def phase_ingest(path: Path) -> dict[str, Any]:
    import httpx
    import uvicorn
    from sqlalchemy import text

    from heedful.app import create_app
    from heedful.config import Settings
    from heedful.oauth.bootstrap import ensure_development_setup
    from heedful.runtime import build_runtime
    from heedful.storage import migrate

    workdir = Path(tempfile.mkdtemp(prefix="heedful-bench-"))
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite:///{workdir / 'heedful.db'}",
        catalog_upload_dir=str(workdir / "uploads"),
        job_poll_interval=0.05,
    )
    runtime = build_runtime(settings)
    migrate.upgrade(runtime.db.engine)
    with runtime.db.transaction() as session:
        key = ensure_development_setup(session, runtime.clock).new_api_key
    app = create_app(settings, runtime, run_worker=True)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    headers = {"Authorization": f"Bearer {key}"}
    size = path.stat().st_size

    def chunks() -> Any:
        with path.open("rb") as handle:
            while piece := handle.read(1024 * 1024):
                yield piece

    rss = TreeRss().__enter__()
    started = time.perf_counter()
    with httpx.Client(base_url=base, timeout=600) as http:
        upload = http.post("/v1/product-catalog/uploads", headers=headers).json()
        put = http.put(upload["uploadUrl"], content=chunks(), headers={"Content-Length": str(size)})
        assert put.status_code == 200, put.text
        uploaded = time.perf_counter() - started
        validated = None
        while True:
            state = http.get(f"/v1/product-catalog/uploads/{upload['uploadId']}", headers=headers)
            status = state.json()
            if validated is None and status["status"] in ("validated", "completed"):
                validated = time.perf_counter() - started
            if status["status"] == "completed":
                break
            time.sleep(0.2)
    seconds = time.perf_counter() - started
    cpu = tree_cpu_seconds()
    rss.__exit__()
    server.should_exit = True
    thread.join(timeout=30)
    stop_pool()
    assert status["productsProcessed"] == status["productsReceived"], status
    with runtime.db.read() as session:
        saved = session.scalar(text("SELECT count(*) FROM catalog_products"))
    assert saved == status["productsProcessed"], (saved, status)
    database_mb = (workdir / "heedful.db").stat().st_size / 1e6
    runtime.db.engine.dispose()
    shutil.rmtree(workdir)
    return {
        "products": status["productsProcessed"],
        "upload_seconds": round(uploaded, 2),
        "validated_at_seconds": round(validated or seconds, 2),
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "products_per_s": round(status["productsProcessed"] / seconds),
        "peak_rss_mb": round(rss.peak_mb, 1),
        "database_mb": round(database_mb, 1),
    }


PHASES = {
    "ceiling": phase_ceiling,
    "validate": phase_validate,
    "validate-one": phase_validate_one,
    "baseline": phase_baseline,
    "ingest": phase_ingest,
}


def run_phase(name: str, path: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--phase", name, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--products", type=int, default=500_000)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "heedful-bench")
    parser.add_argument("--phase", choices=sorted(PHASES))
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument(
        "--with-one", action="store_true", help="also validate in one process, for comparison"
    )
    parser.add_argument("file", nargs="?", type=Path)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(PHASES[args.phase](args.file)))
        return
    args.dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    path = ensure_file(args.dir, args.products)
    size_mb = path.stat().st_size / 1e6
    print(
        f"file: {path} ({args.products} products, {size_mb:.0f} MB, ready in "
        f"{time.perf_counter() - started:.0f} s); cpus: {os.cpu_count()}, "
        f"load: {os.getloadavg()[0]:.1f}"
    )
    phases = ["ceiling", "validate", *(["validate-one"] if args.with_one else []), "baseline"]
    phases += [] if args.skip_ingest else ["ingest"]
    for name in phases:
        result = run_phase(name, path)
        print(f"{name:12s} {json.dumps(result)} load: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    sys.stdout = io.TextIOWrapper(sys.stdout.buffer, line_buffering=True)
    main()
