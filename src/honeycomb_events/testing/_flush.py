"""Flushing the global OpenTelemetry providers, so that what a test made is on its way.

The SDK's batch processors and periodic readers export from their own threads on their own
schedule; a test that waits for events without flushing would wait for that schedule.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class _Flushable(Protocol):
    def force_flush(self, timeout_millis: int = ...) -> bool: ...


def flush_providers(timeout: float = 5.0) -> None:
    """Call `force_flush` on the global tracer, meter and logger providers that have one.

    The API's default (proxy and no-op) providers have none and are skipped, so this is safe
    whatever the application configured.
    """
    # The API is imported here, not at module level: the plugin loads in every pytest run.
    from opentelemetry import metrics, trace  # noqa: PLC0415
    from opentelemetry._logs import get_logger_provider  # noqa: PLC0415

    millis = max(1, int(timeout * 1000))
    for provider in (
        trace.get_tracer_provider(),
        get_logger_provider(),
        metrics.get_meter_provider(),
    ):
        if isinstance(provider, _Flushable):
            provider.force_flush(millis)
