"""Prometheus metrics: the operator's outward account of sessions and API spend.

Every metric lives in its own registry (not the process-global one) so several operators
can run in one test process without clashing, and `/metrics` shows only ours.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

API_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
TIME_TO_READY_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)


PhaseCounts = Callable[[], Iterable[tuple[str, str, int]]]


class SessionsByPhase(Collector):
    """Counts resources by namespace and phase at scrape time, from the operator's cache.

    Counting on scrape (not on every transition) cannot drift: a restart, a missed
    transition or a deleted resource is reflected the next time anyone looks.
    """

    def __init__(self, source: PhaseCounts) -> None:
        self._source = source

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "agentcore_sessions",
            "CodeInterpreterSession resources by namespace and phase.",
            labels=["namespace", "phase"],
        )
        for namespace, phase, count in self._source():
            family.add_metric([namespace, phase], count)
        yield family


PoolSizes = Callable[[], Iterable[tuple[str, str, int, int, int]]]


class PoolSessions(Collector):
    """Per pool, at scrape time from the operator's cache: free sessions wanted, free, free Ready.

    Read from each pool's spec.replicas and its status (replicas, readyReplicas) as the pool's
    last pass wrote them, so the numbers are what `kubectl get cisp` shows.
    """

    def __init__(self, source: PoolSizes) -> None:
        self._source = source

    def collect(self) -> Iterator[GaugeMetricFamily]:
        labels = ["namespace", "pool"]
        desired = GaugeMetricFamily(
            "agentcore_pool_sessions_desired", "Free sessions a pool wants (spec.replicas).", labels=labels
        )
        free = GaugeMetricFamily(
            "agentcore_pool_sessions_free",
            "Free sessions of a pool, in any phase (status.replicas).",
            labels=labels,
        )
        ready = GaugeMetricFamily(
            "agentcore_pool_sessions_free_ready",
            "Free sessions of a pool a claim can take now: Ready, with minRemainingSeconds left (status.readyReplicas).",
            labels=labels,
        )
        for namespace, pool, wanted, count, count_ready in self._source():
            desired.add_metric([namespace, pool], wanted)
            free.add_metric([namespace, pool], count)
            ready.add_metric([namespace, pool], count_ready)
        yield desired
        yield free
        yield ready


class Metrics:
    """The operator's metrics, registered in one registry."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        phase_counts: PhaseCounts | None = None,
        pool_sizes: PoolSizes | None = None,
    ) -> None:
        self.registry = registry or CollectorRegistry()
        self.registry.register(SessionsByPhase(phase_counts or (lambda: ())))
        self.registry.register(PoolSessions(pool_sizes or (lambda: ())))
        self.api_calls = Counter(
            "agentcore_api_calls",
            "AgentCore API calls by operation and outcome (Success or the AWS error code).",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.api_latency = Histogram(
            "agentcore_api_call_duration_seconds",
            "AgentCore API call latency (one attempt: retries are the operator's, each measured), by operation.",
            ["operation"],
            buckets=API_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.time_to_ready = Histogram(
            "agentcore_session_time_to_ready_seconds",
            "Seconds from resource creation to the session being Ready.",
            buckets=TIME_TO_READY_BUCKETS,
            registry=self.registry,
        )
        self.reconcile_errors = Counter(
            "agentcore_reconcile_errors",
            "Reconcile passes that ended in an error, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.rate_limiter_wait = Histogram(
            "agentcore_rate_limiter_wait_seconds",
            "Time AgentCore calls waited for the client-side rate limiter, by operation.",
            ["operation"],
            buckets=(0.0, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0),
            registry=self.registry,
        )
        self.session_restarts = Counter(
            "agentcore_session_restarts",
            "Sessions started to replace one of the same resource (restartPolicy Always), by why: "
            "Renewal (before expiry), Expired, Stopped (ended out of band).",
            ["reason"],
            registry=self.registry,
        )
        self.orphans_stopped = Counter(
            "agentcore_orphan_sessions_stopped",
            "Live sessions the orphan sweep stopped because their resource was gone without stopping them.",
            registry=self.registry,
        )
        self.leader = Gauge(
            "agentcore_leader",
            "1 while this replica holds the leader Lease and acts (always 1 without leader election).",
            registry=self.registry,
        )
        self.interpreters_ready = Counter(
            "agentcore_code_interpreters_ready",
            "CodeInterpreter resources that became Ready (created or adopted).",
            registry=self.registry,
        )


METRIC_NAMES: tuple[str, ...] = (
    "agentcore_sessions",
    "agentcore_api_calls_total",
    "agentcore_api_call_duration_seconds",
    "agentcore_session_time_to_ready_seconds",
    "agentcore_reconcile_errors_total",
    "agentcore_rate_limiter_wait_seconds",
    "agentcore_orphan_sessions_stopped_total",
    "agentcore_leader",
    "agentcore_code_interpreters_ready_total",
    "agentcore_session_restarts_total",
    "agentcore_pool_sessions_desired",
    "agentcore_pool_sessions_free",
    "agentcore_pool_sessions_free_ready",
)
