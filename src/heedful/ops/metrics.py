"""Prometheus metrics, one registry per app so tests and processes never share counters."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class JobStateCollector(Collector):
    """Reads job counts from the database at scrape time (they are shared by all processes)."""

    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily("heedful_jobs", "Jobs in the queue by state", labels=["state"])
        try:
            counts = self._counts()
        except Exception:  # the scrape must not fail because the database is away
            counts = {}
        for state, count in sorted(counts.items()):
            gauge.add_metric([state], count)
        yield gauge


class Metrics:
    def __init__(self, job_counts: Callable[[], dict[str, int]]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "heedful_http_requests",
            "HTTP requests by operation and status",
            ["operation", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "heedful_http_request_duration_seconds",
            "HTTP request latency by operation and status",
            ["operation", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(JobStateCollector(job_counts))
        # The labelled children, kept: looking them up by label costs more than counting.
        self._series: dict[tuple[str, int], tuple[Counter, Histogram]] = {}

    def observe(self, operation: str, status: int, seconds: float) -> None:
        series = self._series.get((operation, status))
        if series is None:
            labels = (operation, str(status))
            series = (self.requests.labels(*labels), self.latency.labels(*labels))
            self._series[(operation, status)] = series
        series[0].inc()
        series[1].observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
