"""Send OpenTelemetry data and plain events to Honeycomb through its Events API.

The public API is what `__all__` lists; everything in a module whose name starts with an
underscore may change without notice.
"""

from ._buffered import BufferedSender
from ._client import Events, HoneycombClient
from ._config import ApiKey, Settings, resolve_settings
from ._encode import BatchEncoder
from ._errors import AuthenticationError, ClientClosedError, ConfigurationError, HoneycombError
from ._formats import Compression, Encoding
from ._limits import (
    DROPPED_FIELDS,
    MAX_BODY_BYTES,
    MAX_EVENT_BYTES,
    MAX_FIELDS,
    MAX_STRING_BYTES,
    LimitTally,
)
from ._model import BatchEvent, EventResult
from ._presend import EventFields, PresendHook
from ._transport import AsyncTransport, RetryPolicy, Transport, TransportStats
from ._version import __version__
from .otel import (
    HoneycombEventsExporter,
    HoneycombLogExporter,
    HoneycombLoggingHandler,
    HoneycombMetricExporter,
    configure_opentelemetry,
)

__all__ = [
    "DROPPED_FIELDS",
    "MAX_BODY_BYTES",
    "MAX_EVENT_BYTES",
    "MAX_FIELDS",
    "MAX_STRING_BYTES",
    "ApiKey",
    "AsyncTransport",
    "AuthenticationError",
    "BatchEncoder",
    "BatchEvent",
    "BufferedSender",
    "ClientClosedError",
    "Compression",
    "ConfigurationError",
    "Encoding",
    "EventFields",
    "EventResult",
    "Events",
    "HoneycombClient",
    "HoneycombError",
    "HoneycombEventsExporter",
    "HoneycombLogExporter",
    "HoneycombLoggingHandler",
    "HoneycombMetricExporter",
    "LimitTally",
    "PresendHook",
    "RetryPolicy",
    "Settings",
    "Transport",
    "TransportStats",
    "__version__",
    "configure_opentelemetry",
    "resolve_settings",
]
