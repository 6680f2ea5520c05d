"""heedful against the events issue's yardstick, each as a ratio of the raw no-op app.

    .venv/bin/python bench/ingest_yardstick.py [--rounds 3] [--seconds 10]

Serves three apps under uvicorn `--workers 2` on SQLite: the raw no-op app of
`bench/ingest.py`, the minimal Starlette + group-commit app of `bench/yardstick_app.py` (the
issue's "minimal prototype"), and `heedful serve`; drives each in turn with the same wrk load
as `bench/ingest.py` (64 connections, POST `/v1/events/custom`), `--rounds` times, and prints
each round's ratios to the raw app and their medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import TOKEN, VENV_BIN, free_port, run_wrk, server  # noqa: E402


def uvicorn(app: str, port: int) -> list[str]:
    return [
        str(VENV_BIN / "uvicorn"), app, "--port", str(port), "--workers", "2",
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    base = {k: v for k, v in os.environ.items() if not k.startswith("HEEDFUL_")}
    base["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    tmp = tempfile.mkdtemp()
    ports = {"raw": free_port(), "yardstick": free_port(), "heedful": free_port()}
    commands = {
        "raw": uvicorn("bench.ingest:noop_app", ports["raw"]),
        "yardstick": uvicorn("bench.yardstick_app:app", ports["yardstick"]),
        "heedful": [
            str(VENV_BIN / "heedful"), "serve", "--workers", "2",
            "--port", str(ports["heedful"]), "--database-url", f"sqlite:///{tmp}/heedful.db",
        ],
    }  # fmt: skip
    env = {
        **base,
        "YARDSTICK_DB": f"{tmp}/yardstick.db",
        "HEEDFUL_BOOTSTRAP_TOKEN": TOKEN,
        "HEEDFUL_RATE_LIMITS": "off",
    }
    rates: dict[str, list[float]] = {name: [] for name in ports}
    with ExitStack() as stack:
        for name, command in commands.items():
            stack.enter_context(server(command, ports[name], env))
        for port in ports.values():
            run_wrk(port, 64, 2)  # warm-up
        for round_number in range(1, args.rounds + 1):
            for name, port in ports.items():
                result = run_wrk(port, 64, args.seconds)
                rates[name].append(result.rps)
                print(f"round {round_number}  {name:10s} {result.line()}", flush=True)
    for name in ("yardstick", "heedful"):
        ratios = [ours / raw for ours, raw in zip(rates[name], rates["raw"], strict=True)]
        listed = " / ".join(f"{ratio:.2f}" for ratio in ratios)
        print(f"{name} / raw: {listed}  median {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
