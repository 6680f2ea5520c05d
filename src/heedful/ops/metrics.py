"""Prometheus metrics, one registry per app so tests and processes never share counters."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BUCKET_LABELS = [*(str(bound) for bound in LATENCY_BUCKETS), "+Inf"]  # as prometheus_client


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


class RequestSeries:
    """The requests of one (operation, status): count, latency sum and latency buckets."""

    __slots__ = ("buckets", "count", "total_seconds")

    def __init__(self) -> None:
        self.count = 0
        self.total_seconds = 0.0
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)  # the last one: over every bound


class RequestMetrics(Collector):
    """`heedful_http_requests` (counter) and `heedful_http_request_duration_seconds`
    (histogram), by operation and status.

    Counted in plain numbers and shaped into metric families only when scraped: a
    prometheus_client `Counter.inc` and `Histogram.observe` each take a lock and walk their
    buckets, which cost a measurable share of an ingestion request. Observed from the event
    loop's thread only (the middleware), so no lock is needed."""

    def __init__(self) -> None:
        self._series: dict[tuple[str, int], RequestSeries] = {}

    def observe(self, operation: str, status: int, seconds: float) -> None:
        series = self._series.get((operation, status))
        if series is None:
            series = self._series[(operation, status)] = RequestSeries()
        series.count += 1
        series.total_seconds += seconds
        series.buckets[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1

    def collect(self) -> Iterator[Metric]:
        labels = ["operation", "status"]
        counter = CounterMetricFamily(
            "heedful_http_requests", "HTTP requests by operation and status", labels=labels
        )
        histogram = HistogramMetricFamily(
            "heedful_http_request_duration_seconds",
            "HTTP request latency by operation and status",
            labels=labels,
        )
        for (operation, status), series in list(self._series.items()):
            values = [operation, str(status)]
            counter.add_metric(values, series.count)
            histogram.add_metric(
                values, _cumulative(series.buckets), sum_value=series.total_seconds
            )
        yield counter
        yield histogram


def _cumulative(buckets: list[int]) -> list[tuple[str, float]]:
    """Prometheus buckets count every observation up to their bound."""
    return list(zip(_BUCKET_LABELS, itertools.accumulate(buckets), strict=True))


class Metrics:
    def __init__(self, job_counts: Callable[[], dict[str, int]]) -> None:
        self.registry = CollectorRegistry()
        self.requests = RequestMetrics()
        self.registry.register(self.requests)
        self.registry.register(JobStateCollector(job_counts))

    def observe(self, operation: str, status: int, seconds: float) -> None:
        self.requests.observe(operation, status, seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
