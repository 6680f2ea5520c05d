"""heedful's request metrics render as prometheus_client's own Counter and Histogram would."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from heedful.ops.metrics import LATENCY_BUCKETS, Metrics

# Every bound itself (a bucket counts values up to and including its bound), values between
# bounds, zero, and values past the last bound.
SAMPLES = [0.0, *LATENCY_BUCKETS, 0.0004, 0.003, 0.07, 7.5, 10.000001, 42.0]


def _reference(observations: list[tuple[str, int, float]]) -> list[str]:
    registry = CollectorRegistry()
    requests = Counter(
        "heedful_http_requests",
        "HTTP requests by operation and status",
        ["operation", "status"],
        registry=registry,
    )
    latency = Histogram(
        "heedful_http_request_duration_seconds",
        "HTTP request latency by operation and status",
        ["operation", "status"],
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )
    for operation, status, seconds in observations:
        requests.labels(operation, str(status)).inc()
        latency.labels(operation, str(status)).observe(seconds)
    return _without_created(generate_latest(registry))


def _without_created(text: bytes) -> list[str]:
    # prometheus_client adds a `_created` timestamp per series, which differs by nature.
    return [line for line in text.decode().splitlines() if "_created" not in line]


def test_request_metrics_match_prometheus_clients_counter_and_histogram() -> None:
    observations = [("postCustomEvents", 200, seconds) for seconds in SAMPLES]
    observations += [("postCustomEvents", 400, 0.002), ("getMe", 401, 0.3)]
    metrics = Metrics(dict)
    for observation in observations:
        metrics.observe(*observation)
    ours = [line for line in _without_created(metrics.render()) if "heedful_jobs" not in line]
    assert ours == _reference(observations)


def test_no_requests_render_as_prometheus_clients_families_with_no_series() -> None:
    text = Metrics(dict).render()
    ours = [line for line in _without_created(text) if "heedful_jobs" not in line]
    assert ours == _reference([])
    assert "heedful_http_requests_total{" not in text.decode()
