"""An exporter's own counters as OpenTelemetry metrics, when the SDK's are on.

The SDK emits its self-observability metrics when ``OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED``
is ``true``; then each exporter of this package also reports, through the global meter
provider, what its ``stats`` hold: observable counters read at each collection, so exporting
costs nothing more. The exporter is held weakly: a collected exporter stops reporting.
"""

from __future__ import annotations

import itertools
import os
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from opentelemetry.metrics import CallbackOptions, Observation, get_meter

from honeycomb_events._version import __version__

ENV_INTERNAL_METRICS: Final = "OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED"

_EVENT_OUTCOMES: Final = (
    ("events_submitted", "submitted"),
    ("events_accepted", "accepted"),
    ("events_failed", "failed"),
    ("events_retried", "retried"),
    ("events_spooled", "spooled"),
    ("events_unspooled", "unspooled"),
    ("events_dropped_spool_full", "dropped_spool_full"),
    ("events_dropped_expired", "dropped_expired"),
    ("events_backlogged", "backlogged"),
    ("events_dropped_backlog_full", "dropped_backlog_full"),
    ("events_lost_at_exit", "lost_at_exit"),
)
_ids = itertools.count()


def internal_metrics_enabled(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return env.get(ENV_INTERNAL_METRICS, "").strip().lower() == "true"


def report_stats(component_type: str, stats_of: Callable[[], Mapping[str, Any] | None]) -> None:
    """Register observable counters for what `stats_of()` returns (None once the exporter is
    gone): ``honeycomb_events.exporter.events`` by ``outcome``,
    ``honeycomb_events.exporter.events.failed`` by ``http.response.status_code`` (0: no answer)
    and ``honeycomb_events.exporter.requests`` by ``outcome`` (sent, failed)."""
    name = f"{component_type}/{next(_ids)}"
    component = {"otel.component.type": component_type, "otel.component.name": name}
    meter = get_meter("honeycomb_events", __version__)

    def events(options: CallbackOptions) -> Iterable[Observation]:
        stats = stats_of() or {}
        return [
            Observation(stats.get(key, 0), {**component, "outcome": outcome})
            for key, outcome in _EVENT_OUTCOMES
            if key in stats
        ]

    def failed(options: CallbackOptions) -> Iterable[Observation]:
        stats = stats_of() or {}
        return [
            Observation(count, {**component, "http.response.status_code": status})
            for status, count in stats.get("failed_by_status", {}).items()
        ]

    def requests(options: CallbackOptions) -> Iterable[Observation]:
        stats = stats_of() or {}
        return [
            Observation(stats.get("requests", 0), {**component, "outcome": "sent"}),
            Observation(stats.get("requests_failed", 0), {**component, "outcome": "failed"}),
        ]

    meter.create_observable_counter(
        "honeycomb_events.exporter.events",
        [events],
        unit="{event}",
        description="Events this exporter handled, by outcome",
    )
    meter.create_observable_counter(
        "honeycomb_events.exporter.events.failed",
        [failed],
        unit="{event}",
        description="Events that failed a send, by the HTTP status Honeycomb gave (0: none)",
    )
    meter.create_observable_counter(
        "honeycomb_events.exporter.requests",
        [requests],
        unit="{request}",
        description="HTTP requests this exporter made, and those that got no answer",
    )


def weak_stats(exporter: Any) -> Callable[[], Mapping[str, Any] | None]:
    """`exporter.stats`, without keeping the exporter alive."""
    reference = weakref.ref(exporter)

    def stats() -> Mapping[str, Any] | None:
        alive = reference()
        return None if alive is None else alive.stats

    return stats
