"""Prometheus metrics of one server (its own registry, so several apps in one process do not collide)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class ServeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("nlptl_requests", "HTTP requests answered", ["path", "status"],
                                registry=self.registry)
        self.latency = Histogram("nlptl_request_seconds", "Time to answer a request", ["path"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.errors = Counter("nlptl_errors", "Requests answered with an error", ["path", "kind"],
                              registry=self.registry)
        self.texts = Counter("nlptl_texts", "Texts predicted", registry=self.registry)
        self.batch_texts = Histogram("nlptl_batch_texts", "Texts per model forward (micro-batch size)",
                                     buckets=BATCH_BUCKETS, registry=self.registry)
        self.batch_seconds = Histogram("nlptl_batch_seconds", "Time of one micro-batch forward",
                                       buckets=LATENCY_BUCKETS, registry=self.registry)

    def observe_batch(self, texts: int, seconds: float) -> None:
        self.batch_texts.observe(texts)
        self.batch_seconds.observe(seconds)
        self.texts.inc(texts)

    def observe_request(self, path: str, status: int, seconds: float) -> None:
        self.requests.labels(path, str(status)).inc()
        self.latency.labels(path).observe(seconds)
        if status >= 400:
            self.errors.labels(path, "client" if status < 500 else "server").inc()
