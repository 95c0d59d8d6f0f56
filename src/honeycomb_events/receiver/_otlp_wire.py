"""OTLP protobuf requests parsed whatever the nesting of their values.

Python's protobuf parser refuses messages nested deeper than 100 levels, so a log body of 50
nested arrays would be refused; Honeycomb's (Go) takes 10,000. The request types here are the
OTLP ones with a single change: an ``AnyValue``'s array and kvlist are read as bytes (the wire
format is the same), so a request parses at a fixed, shallow depth, and `any_value` then
decodes each level on its own, without recursion, into the Python values the SDK holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import FieldDescriptor, FileDescriptor
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2

_NESTING_FIELDS: Final = frozenset({"array_value", "kvlist_value"})


def _shallow_pool() -> descriptor_pool.DescriptorPool:
    """The OTLP files, with ``AnyValue.array_value`` and ``.kvlist_value`` as bytes."""
    pool = descriptor_pool.DescriptorPool()
    added: set[str] = set()

    def add(file: FileDescriptor) -> None:
        if file.name in added:
            return
        for dependency in file.dependencies:
            add(dependency)
        proto = descriptor_pb2.FileDescriptorProto()
        file.CopyToProto(proto)
        if file.name == common_pb2.DESCRIPTOR.name:
            for message in proto.message_type:
                if message.name == "AnyValue":
                    for field in message.field:
                        if field.name in _NESTING_FIELDS:
                            field.type = FieldDescriptor.TYPE_BYTES  # type: ignore[assignment]
                            field.ClearField("type_name")
        pool.Add(proto)
        added.add(file.name)

    for service in (trace_service_pb2, logs_service_pb2, metrics_service_pb2):
        add(service.DESCRIPTOR)
    return pool


_POOL: Final = _shallow_pool()


def _message(name: str) -> type[Message]:
    return message_factory.GetMessageClass(_POOL.FindMessageTypeByName(name))


TraceRequest: Final = _message("opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest")
LogsRequest: Final = _message("opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest")
MetricsRequest: Final = _message(
    "opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest"
)
AnyValue: Final = _message("opentelemetry.proto.common.v1.AnyValue")
ArrayValue: Final = _message("opentelemetry.proto.common.v1.ArrayValue")
KeyValueList: Final = _message("opentelemetry.proto.common.v1.KeyValueList")


def any_value(value: Any) -> Any:
    """An ``AnyValue`` (of the types here) as the Python value the SDK would hold: a kvlist
    a dict (a repeated key: the later wins, as at Honeycomb), an array a list, bytes as bytes,
    an empty value None. Any depth; a nested level that is not valid protobuf raises
    `google.protobuf.message.DecodeError`."""
    root: list[Any] = [None]
    # (value, where its Python value goes, at which key or index)
    pending: list[tuple[Any, Any, Any]] = [(value, root, 0)]
    while pending:
        message, container, slot = pending.pop()
        kind = message.WhichOneof("value")
        result: Any
        if kind == "array_value":
            items = ArrayValue.FromString(message.array_value).values  # type: ignore[attr-defined]
            result = [None] * len(items)
            pending.extend((item, result, index) for index, item in enumerate(items))
        elif kind == "kvlist_value":
            pairs = KeyValueList.FromString(message.kvlist_value).values  # type: ignore[attr-defined]
            result = dict.fromkeys(pair.key for pair in pairs)
            # Pushed in reverse, so taken in order: of two pairs with one key, the later is
            # written last and wins.
            pending.extend((pair.value, result, pair.key) for pair in reversed(pairs))
        elif kind is None:
            result = None
        else:
            result = getattr(message, kind)
        container[slot] = result
    return root[0]


def attributes_of(pairs: Iterable[Any]) -> dict[str, Any]:
    """Repeated ``KeyValue`` as a dict; a repeated key: the later wins, as at Honeycomb."""
    return {pair.key: any_value(pair.value) for pair in pairs}
