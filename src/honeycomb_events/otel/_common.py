"""What every signal's mapping shares: attribute values, resource and scope fields, sample rates
and dataset routing, as Honeycomb's own OTLP translation does them (see mapping.md).

Everything here is a pure function of SDK objects: no I/O, no global state.
"""

from __future__ import annotations

import base64
import collections
import decimal
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import msgspec
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from honeycomb_events._limits import MAX_INT, MIN_INT
from honeycomb_events._model import MAX_SAMPLERATE, BatchEvent

INSTRUMENTATION_PREFIXES: Final = (
    "opentelemetry.instrumentation",
    "io.opentelemetry",
    "OpenTelemetry.Instrumentation",
    "OpenTelemetry::Instrumentation",
    "go.opentelemetry.io/contrib/instrumentation",
    "@opentelemetry/instrumentation",
    "io.opentelemetry.contrib.php",
    "github.com/open-telemetry/opentelemetry-collector",
    "@honeycombio/",
)
"""Scope names Honeycomb marks with ``telemetry.instrumentation_library: true``."""

UNKNOWN_SERVICE: Final = "unknown_service"
SAMPLE_RATE_KEYS: Final = ("sampleRate", "SampleRate")

_JSON = msgspec.json.Encoder()
_MSGPACK = msgspec.msgpack.Encoder()
_Item = TypeVar("_Item")
_THRESHOLD_DIGITS: Final = 14  # an OTel sampling threshold is 56 bits: 14 hex digits
_THRESHOLD_SPACE: Final = 1 << 56
_SCALAR_TYPES: Final = frozenset({str, bool, int, float})
_NUMBER_TYPES: Final = frozenset({int, float})
_TEXT_ONLY: Final = {str}


def go_float(value: float) -> str:
    """A float as Go's encoding/json writes it (which Honeycomb's translation uses).

    Go writes the shortest digits that round-trip: positionally from 1e-6 up to 1e21, with no
    ``.0`` on whole numbers, and with a bare exponent outside that range (``1e-7``,
    ``1.5e+21``). Python's repr has the same digits and is scientific there too.
    """
    if not math.isfinite(value):
        # JSON has no spelling for these; as top-level values, they travel as these strings.
        return '"NaN"' if math.isnan(value) else ('"Infinity"' if value > 0 else '"-Infinity"')
    shortest = repr(value)
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        mantissa, _, exponent = shortest.partition("e")
        power = int(exponent)
        return f"{mantissa}e{'-' if power < 0 else '+'}{abs(power)}"
    text = format(decimal.Decimal(shortest), "f")
    return text[:-2] if text.endswith(".0") else text


def json_text(value: Any) -> str:
    """An array (or a mapping past the flattening depth) as JSON text, as Go writes it:
    compact, no HTML escaping, floats in Go's form, and a closing newline."""
    return _go_json(value) + "\n"


def _go_json(value: Any) -> str:
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_go_json(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return (
            "{"
            + ",".join(
                f"{_JSON.encode(str(key)).decode()}:{_go_json(item)}" for key, item in value.items()
            )
            + "}"
        )
    if isinstance(value, (bytes, bytearray)):
        return _JSON.encode(base64.b64encode(value).decode("ascii")).decode()
    return _JSON.encode(value).decode()


def attribute_value(value: Any) -> Any:
    """An OTel attribute value as Honeycomb stores it (None for a value it skips).

    Scalars stay as they are; arrays become their JSON text and bytes the JSON text of their
    base64 string, each followed by a newline, byte for byte as Honeycomb writes them.
    """
    if isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (bytes, bytearray)):
        return json_text(bytes(value))
    if isinstance(value, (list, tuple)):
        return json_text(value)
    if value is None:
        return None
    return str(value)


def add_attributes(
    fields: dict[str, Any],
    attributes: Mapping[str, Any] | None,
    add_structured: Callable[[dict[str, Any], str, Any], None] | None = None,
) -> bool:
    """Merge OTel attributes into `fields` (later wins); empty keys and None values skipped,
    other values as `attribute_value` writes them, or, for arrays, bytes and mappings, as
    `add_structured` adds them when given (log attributes flatten mappings).

    True when every merged field already holds Honeycomb's per-value limits (a string key; a
    string, bool, 64-bit integer or finite float), so that the encoder need not check each
    field again (see `BatchEvent.trusted`). Attributes the SDK recorded nearly always do: they
    are checked with a few C-level passes and merged with one `dict.update`.
    """
    if not attributes:
        return True
    # The SDK's BoundedAttributes only takes non-empty string keys.
    keys_checked = type(attributes) is BoundedAttributes
    attributes = plain_attributes(attributes) or {}
    values = attributes.values()
    value_types = set(map(type, values))
    if (
        value_types <= _SCALAR_TYPES
        and (keys_checked or ("" not in attributes and set(map(type, attributes)) == _TEXT_ONLY))
        and (not value_types & _NUMBER_TYPES or _numbers_hold_limits(attributes, value_types))
    ):
        fields.update(attributes)
        return True
    checked = True
    for key, value in attributes.items():
        if not key or value is None:
            continue
        if add_structured is not None and type(value) not in _SCALAR_TYPES:
            add_structured(fields, key, value)
            checked = False  # the encoder checks what it made
            continue
        converted = attribute_value(value)
        if converted is not None:
            fields[key] = converted
            checked = checked and type(key) is str and holds_limits(converted)
    return checked


def _numbers_hold_limits(attributes: Mapping[str, Any], value_types: set[type]) -> bool:
    """Whether every int of `attributes` is a 64-bit integer and every float finite."""
    if int in value_types:
        # msgpack holds exactly the integers Honeycomb takes (signed or unsigned 64-bit), so
        # encoding the values to it is the range check, at C speed.
        try:
            _MSGPACK.encode(attributes)
        except (OverflowError, UnicodeEncodeError, TypeError):
            return False
    return float not in value_types or all(
        map(math.isfinite, [value for value in attributes.values() if type(value) is float])
    )


def holds_limits(value: Any) -> bool:
    """Whether Honeycomb takes `value` as it is (a string's length aside)."""
    cls = type(value)
    if cls is str or cls is bool:
        return True
    if cls is int:
        return bool(MIN_INT <= value <= MAX_INT)
    if cls is float:
        return math.isfinite(value)
    return False


@dataclass(frozen=True, slots=True)
class SharedFields:
    """The fields every event of one resource and scope carries, built once per export.

    `checked` says every field holds Honeycomb's per-value limits (see `add_attributes`).
    """

    fields: dict[str, Any]
    checked: bool

    @classmethod
    def of(cls, *parts: Mapping[str, Any] | None) -> SharedFields:
        """The fields of `parts` merged in order (later wins), checked once."""
        fields: dict[str, Any] = {}
        checked = True
        for part in parts:
            checked = add_attributes(fields, part) and checked
        return cls(fields, checked)


def resource_fields(attributes: Mapping[str, Any] | None, schema_url: str | None) -> dict[str, Any]:
    """The fields every event of a resource carries."""
    fields: dict[str, Any] = {}
    add_attributes(fields, attributes)
    if schema_url:
        fields["resource.schema_url"] = schema_url
    return fields


def scope_fields(
    name: str | None,
    version: str | None,
    schema_url: str | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The fields every event of an instrumentation scope carries."""
    fields: dict[str, Any] = {}
    if name:
        fields["library.name"] = name
        if name.startswith(INSTRUMENTATION_PREFIXES):
            fields["telemetry.instrumentation_library"] = True
    if version:
        fields["library.version"] = version
    if schema_url:
        fields["scope.schema_url"] = schema_url
    add_attributes(fields, attributes)
    return fields


_NOTHING_SHARED: Final = SharedFields({}, checked=True)


def group_by_resource(
    items: Iterable[_Item],
    locate: Callable[[_Item], tuple[Resource, InstrumentationScope | None]],
    to_events: Callable[[_Item, SharedFields], Iterable[BatchEvent]],
) -> list[tuple[Resource, Iterator[BatchEvent]]]:
    """The events of every item (span, log record), grouped by resource in the order of first
    appearance. `locate` gives an item's resource and scope; their fields are built once per
    export, not once per item: a batch holds few resources and scopes and many items.

    Each group's events are made as its iterator is consumed: an exporter encodes each event
    right after it is made, while its fields are still in the CPU's caches, and never holds a
    whole batch of them.
    """
    by_resource: dict[int, tuple[Resource, list[_Item], list[SharedFields]]] = {}
    shared_by_pair: dict[tuple[int, int], SharedFields] = {}
    group_items: list[_Item] = []
    group_shared: list[SharedFields] = []
    shared = _NOTHING_SHARED  # replaced at the first item, which never matches `last`
    last: tuple[object, object] = (object(), object())
    for item in items:
        resource, scope = locate(item)
        # Items of one resource and scope usually come in a row: no lookup for those.
        if resource is not last[0] or scope is not last[1]:
            last = (resource, scope)
            pair = (id(resource), id(scope))
            if pair not in shared_by_pair:
                scope_part = (
                    None
                    if scope is None
                    else scope_fields(
                        scope.name,
                        scope.version,
                        scope.schema_url,
                        getattr(scope, "attributes", None),
                    )
                )
                shared_by_pair[pair] = SharedFields.of(
                    resource_fields(resource.attributes, resource.schema_url), scope_part
                )
            shared = shared_by_pair[pair]
            group = by_resource.get(id(resource))
            if group is None:
                group = by_resource[id(resource)] = (resource, [], [])
            group_items, group_shared = group[1], group[2]
        group_items.append(item)
        group_shared.append(shared)
    return [
        (resource, _events_of(group_items, group_shared, to_events))
        for resource, group_items, group_shared in by_resource.values()
    ]


def _events_of(
    items: list[_Item],
    shared: list[SharedFields],
    to_events: Callable[[_Item, SharedFields], Iterable[BatchEvent]],
) -> Iterator[BatchEvent]:
    for item, fields in zip(items, shared, strict=True):
        yield from to_events(item, fields)


def plain_attributes(attributes: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The plain dict inside the SDK's `BoundedAttributes`, else `attributes` itself.

    Reading a `BoundedAttributes` through the Mapping interface runs Python code per key; the
    dict inside it is what the SDK recorded, immutable once the span, event or record ended.
    """
    if type(attributes) is BoundedAttributes:
        inner = getattr(attributes, "_dict", None)
        if type(inner) is dict:
            return inner
    return attributes


def plain_sequence(items: Sequence[_Item]) -> Sequence[_Item]:
    """A snapshot of the deque inside the SDK's `BoundedList`, else `items` itself.

    `BoundedList` copies itself under a lock on every iteration; `tuple(deque)` is one C call.
    """
    if type(items) is BoundedList:
        inner = getattr(items, "_dq", None)
        if type(inner) is collections.deque:
            return tuple(inner)
    return items


def pop_sample_rate(fields: dict[str, Any]) -> int | None:
    """Remove ``sampleRate`` and ``SampleRate`` from `fields`; the rate, read from
    ``sampleRate`` when both are there.

    A number or numeric string, rounded; 0 or less means 1; capped at 2,147,483,647. None when
    neither field is there. An unreadable value counts as 1 (Honeycomb's behaviour).
    """
    rate = None
    for key in SAMPLE_RATE_KEYS:
        if key in fields:
            value = fields.pop(key)
            if rate is None:
                rate = _as_rate(value)
    return rate


def _as_rate(value: Any) -> int:
    number: float
    if isinstance(value, bool):
        return 1
    if isinstance(value, (int, float)):
        number = value
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return 1
    else:
        return 1
    if not math.isfinite(number):
        return MAX_SAMPLERATE if number > 0 else 1
    rate = round(number)
    return 1 if rate <= 0 else min(rate, MAX_SAMPLERATE)


def tracestate_sample_rate(tracestate: Iterable[tuple[str, str]] | None) -> int | None:
    """The rate implied by an OTel sampling threshold in the W3C tracestate, if any.

    ``ot=th:<hex>`` (or the older ``th=`` spelling) is the rejection threshold T of 56 bits,
    written with trailing zeros dropped; a span was kept with probability (2^56 - T) / 2^56.
    """
    if not tracestate:
        return None
    for vendor, value in tracestate:
        if vendor != "ot":
            continue
        for part in value.split(";"):
            key, separator, threshold = part.partition(":")
            if not separator:
                key, separator, threshold = part.partition("=")
            if key.strip() != "th" or not threshold:
                continue
            threshold = threshold.strip()
            if len(threshold) > _THRESHOLD_DIGITS:
                return None
            try:
                rejected = int(threshold.ljust(_THRESHOLD_DIGITS, "0"), 16)
            except ValueError:
                return None
            kept = _THRESHOLD_SPACE - rejected
            return min(round(_THRESHOLD_SPACE / kept), MAX_SAMPLERATE) if kept > 0 else None
    return None


def service_dataset(resource_attributes: Mapping[str, Any] | None) -> str:
    """The dataset Honeycomb picks for an environment key: the resource's ``service.name``,
    trimmed; missing, blank or ``unknown_service...`` gives ``unknown_service``.

    A dataset name cannot hold '/', so each one becomes '-' (Honeycomb would refuse the
    request, and with it every span of the service).
    """
    name = (resource_attributes or {}).get("service.name")
    if not isinstance(name, str) or not name.strip() or name.startswith(UNKNOWN_SERVICE):
        return UNKNOWN_SERVICE
    return name.strip().replace("/", "-")
