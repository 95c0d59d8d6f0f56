"""Which dataset each event goes to: every rule in one place, as Honeycomb applies them to
what it receives over OTLP (datasets-and-keys.md).

- Spans: the dataset argument; else, with a classic key, the configured dataset (required);
  else, with an environment key, the resource's ``service.name`` (the dataset variables are
  ignored, with a warning).
- Logs, whatever the key: the dataset argument; else a usable ``service.name``; else the
  configured dataset; else ``unknown_log_source``.
- Metrics: the dataset argument; else ``HONEYCOMB_METRICS_DATASET`` (never
  ``HONEYCOMB_DATASET``); else ``unknown_metrics``.
- Every name: `validate_dataset`, as the Events API takes it in a URL path.

The configuration (`_config.resolve_settings`) reads the dataset argument and the variables
(``HONEYCOMB_TRACES_DATASET``, ``HONEYCOMB_METRICS_DATASET``, ``HONEYCOMB_LOGS_DATASET``, then
``HONEYCOMB_DATASET``) into `Settings.dataset`; `routing` applies a signal's rule to them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from ._errors import ConfigurationError

if TYPE_CHECKING:
    from ._config import Settings, Signal

_logger = logging.getLogger("honeycomb_events")

ENV_DATASET: Final = "HONEYCOMB_DATASET"
"""The general dataset variable, after a signal's own (``HONEYCOMB_TRACES_DATASET``)."""
DATASET_ARGUMENT: Final = "the dataset argument"
"""Where a dataset given in code came from, as messages name it."""

UNKNOWN_SERVICE: Final = "unknown_service"
UNKNOWN_LOG_SOURCE: Final = "unknown_log_source"
"""The dataset of logs whose resource has no usable ``service.name`` and no dataset is set."""
UNKNOWN_METRICS: Final = "unknown_metrics"
"""The dataset of metrics when none is set."""


def validate_dataset(name: str) -> str:
    """Check a dataset name as the Events API would take it in a URL path."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("dataset must be a non-empty string")
    if "/" in name:
        raise ValueError(
            f"dataset {name!r} contains '/': Honeycomb dataset names cannot contain slashes"
        )
    return name


def checked_dataset(name: str, source: str) -> str:
    """`validate_dataset`, failing with a `ConfigurationError` that names `source`."""
    try:
        return validate_dataset(name)
    except ValueError as error:
        raise ConfigurationError(f"{source}: {error}") from None


def service_dataset(resource_attributes: Mapping[str, Any] | None) -> str:
    """The dataset Honeycomb picks for an environment key's spans: the resource's
    ``service.name``, trimmed; missing, blank or ``unknown_service...`` gives
    ``unknown_service``.

    A dataset name cannot hold '/', so each one becomes '-' (Honeycomb would refuse the
    request, and with it every span of the service).
    """
    name = (resource_attributes or {}).get("service.name")
    if not isinstance(name, str) or not name.strip() or name.startswith(UNKNOWN_SERVICE):
        return UNKNOWN_SERVICE
    return name.strip().replace("/", "-")


def log_dataset(resource_attributes: Mapping[str, Any] | None, configured: str | None) -> str:
    """The dataset Honeycomb picks for logs, whatever the key: a usable ``service.name``
    (a string, not blank, not starting with ``unknown_service``; trimmed, '/' made '-'), else
    `configured` (the dataset variable), else ``unknown_log_source``."""
    name = (resource_attributes or {}).get("service.name")
    if isinstance(name, str) and name.strip() and not name.startswith(UNKNOWN_SERVICE):
        return service_dataset(resource_attributes)
    return configured or UNKNOWN_LOG_SOURCE


def metrics_dataset(configured: str | None) -> str:
    """The dataset of metrics: `configured`, else ``unknown_metrics``, whatever the resource."""
    return configured or UNKNOWN_METRICS


@dataclass(frozen=True, slots=True)
class Routing:
    """Where one signal's events go, by the attributes of their resource.

    `fixed` takes every event (the dataset argument, a classic key's traces dataset);
    otherwise the signal's rule decides, with `configured` as the dataset of logs without a
    usable ``service.name`` and of all metrics.
    """

    signal: Signal
    fixed: str | None = None
    configured: str | None = None

    def dataset_for(self, resource_attributes: Mapping[str, Any] | None) -> str:
        if self.fixed is not None:
            return self.fixed
        if self.signal == "traces":
            return service_dataset(resource_attributes)
        if self.signal == "logs":
            return log_dataset(resource_attributes, self.configured)
        return metrics_dataset(self.configured)


def routing(signal: Signal, settings: Settings) -> Routing:
    """The routing of `signal`'s events by their settings (`Settings.dataset`).

    A dataset variable is checked here, only where the signal's rule uses it: an environment
    key's traces ignore it, and say so once. `ConfigurationError` for a variable that holds no
    dataset name, and for a classic key's traces without a dataset.
    """
    name, source = settings.dataset, str(settings.dataset_source)
    if source == DATASET_ARGUMENT:  # checked when it was resolved
        return Routing(signal, fixed=name)
    if signal == "metrics" and source == ENV_DATASET:
        name = None  # metrics read their own variable only
    if signal != "traces":
        return Routing(signal, configured=None if name is None else checked_dataset(name, source))
    key = settings.api_key
    if key.is_classic:
        if name is None:
            raise ConfigurationError(
                f"the API key from {key.source} is a classic key, which needs a dataset: "
                f"set {source}, or pass dataset=..."
            )
        return Routing(signal, fixed=checked_dataset(name, source))
    if name is not None:
        _logger.warning(
            "%s is ignored: with an environment key, Honeycomb names each trace dataset after "
            "the service.name resource attribute (pass dataset=... to override)",
            source,
        )
    return Routing(signal)
