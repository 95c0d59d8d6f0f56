"""A local receiver that speaks Honeycomb's Events API, for tests and offline development.

Start one with ``with Receiver() as receiver:``, point a client at ``receiver.url``, then look
at ``receiver.events(dataset)``, ``receiver.requests`` and ``receiver.stats``; inject failures
with ``receiver.faults.push(Fault(...))``; ask Honeycomb's questions of stored events with
``receiver.store.query(dataset, QuerySpec.create(...))``. It needs the ``receiver`` extra
(``pip install 'honeycomb-events[receiver]'``), which brings Starlette and uvicorn.
"""

from __future__ import annotations

try:
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "honeycomb_events.receiver needs Starlette and uvicorn: "
        "pip install 'honeycomb-events[receiver]'"
    ) from exc

from honeycomb_events._query_spec import (
    Calculation,
    Filter,
    Order,
    QueryError,
    QuerySpec,
    group_filters,
)

from ._app import (
    MAX_SINGLE_BODY_BYTES,
    IncompleteResponseFilter,
    ReceiverStats,
    RequestLog,
    SeenRequest,
    create_app,
)
from ._bodies import MAX_DECODED_BYTES
from ._errors import ErrorText
from ._event_checks import MAX_FUTURE_NS
from ._faults import Fault, FaultPlan, PathKind, default_error
from ._item_count import MAX_ITEMS
from ._query_result import GroupResult, Heatmap, QueryResult
from ._server import Receiver
from ._store import MAX_DATASET_COLUMNS, EventStore
from ._stored_event import EventLike, StoredEvent

__all__ = [
    "MAX_DATASET_COLUMNS",
    "MAX_DECODED_BYTES",
    "MAX_FUTURE_NS",
    "MAX_ITEMS",
    "MAX_SINGLE_BODY_BYTES",
    "Calculation",
    "ErrorText",
    "EventLike",
    "EventStore",
    "Fault",
    "FaultPlan",
    "Filter",
    "GroupResult",
    "Heatmap",
    "IncompleteResponseFilter",
    "Order",
    "PathKind",
    "QueryError",
    "QueryResult",
    "QuerySpec",
    "Receiver",
    "ReceiverStats",
    "RequestLog",
    "SeenRequest",
    "StoredEvent",
    "create_app",
    "default_error",
    "group_filters",
]
