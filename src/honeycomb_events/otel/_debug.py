"""``DEBUG=true`` (the distro's variable; ``HONEYCOMB_DEBUG`` too): what the exporters were
configured with, said once on stderr when the first one is made, and every event as it is sent.

The configuration block resolves every signal's settings as its exporter would, so that a
wrong variable shows before anything is sent; it names where the key came from and what kind
it is, never the key.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterable
from typing import Final

from honeycomb_events._config import (
    ENV_DEBUG,
    ENV_ENDPOINT,
    Settings,
    Signal,
    flag_set,
    resolve_settings,
)
from honeycomb_events._datasets import (
    UNKNOWN_LOG_SOURCE,
    UNKNOWN_SERVICE,
    metrics_dataset,
    routing,
)
from honeycomb_events._errors import ConfigurationError
from honeycomb_events.otel._sampler import ENV_SAMPLE_RATE

_DISTRO_DEBUG: Final = "DEBUG"
_PREFIX: Final = "honeycomb-events debug:"
_SIGNALS: Final[tuple[Signal, ...]] = ("traces", "metrics", "logs")
# Shown as they are set: how traces are sampled is the SDK's (or the sampler's) business.
_SAMPLING_VARIABLES: Final = (
    ENV_SAMPLE_RATE,
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
)

_said = threading.Event()


def debug_enabled() -> bool:
    return flag_set(_DISTRO_DEBUG) or flag_set(ENV_DEBUG)


def say_configuration_once() -> None:
    """The configuration block, the first time an exporter is made in this process."""
    if _said.is_set():
        return
    _said.set()
    _write([f"{_PREFIX} configuration", *configuration_lines()])


def configuration_lines() -> list[str]:
    """Each signal's endpoint, dataset, key source and kind; then spool and sampling."""
    lines = []
    spool = "none (HONEYCOMB_SPOOL_DIR not set)"
    for signal in _SIGNALS:
        try:
            settings = resolve_settings(signal=signal)
        except ConfigurationError as error:
            lines.append(f"  {signal}: not configured: {error}")
            continue
        kind = "classic key" if settings.api_key.is_classic else "environment key"
        source = (
            ""
            if settings.endpoint_source == ENV_ENDPOINT
            else f" (from {settings.endpoint_source})"
        )
        lines.append(
            f"  {signal}: endpoint {settings.endpoint}{source}; dataset: "
            f"{_dataset_rule(signal, settings)}; key from {settings.api_key.source} ({kind}); "
            f"compression {settings.compression.value}"
        )
        if settings.spool is not None:
            spool = (
                f"{settings.spool.directory} (at most {settings.spool.max_bytes} bytes, "
                f"{settings.spool.max_age:g} s)"
            )
    lines.append(f"  spool: {spool}")
    sampling = [f"{name}={os.environ[name]}" for name in _SAMPLING_VARIABLES if name in os.environ]
    lines.append(f"  sampling: {', '.join(sampling) if sampling else 'every span is kept'}")
    return lines


def _dataset_rule(signal: Signal, settings: Settings) -> str:
    try:
        rule = routing(signal, settings)
    except ConfigurationError as error:
        return f"none: {error}"
    if rule.fixed is not None:
        return rule.fixed
    if signal == "traces":
        return f"each resource's service.name, else {UNKNOWN_SERVICE}"
    if signal == "logs":
        return f"each resource's service.name, else {rule.configured or UNKNOWN_LOG_SOURCE}"
    return metrics_dataset(rule.configured)


def say_events(dataset: str, events: Iterable[bytes]) -> None:
    """Each event's bytes as sent to `dataset` (JSON; msgpack shown as its bytes)."""
    _write(
        f"{_PREFIX} -> {dataset}: {event.decode('utf-8', 'backslashreplace')}" for event in events
    )


def _write(lines: Iterable[str]) -> None:
    with contextlib.suppress(OSError, ValueError):  # a closed stderr: nothing more to do
        sys.stderr.write("".join(f"{line}\n" for line in lines))
        sys.stderr.flush()
