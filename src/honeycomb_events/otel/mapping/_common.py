"""What every signal's mapping shares: attributes merged into events, resource and scope
fields, and items grouped by resource with each item isolated from the others, as Honeycomb's
own OTLP translation does them (see mapping.md). Which dataset a resource's events go to is
decided in `honeycomb_events._datasets`.

Everything here is a pure function of SDK objects: no I/O, no global state but a note of
which kinds of failure were already logged.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from honeycomb_events._limits import (
    DROPPED_FIELDS,
    LimitTally,
    dropped_count,
    fields_within_limits,
    value_within_limits,
)
from honeycomb_events._model import BatchEvent

from ._values import VALUES_DROPPED, Counts, add_value, key_text, single_value

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

ITEMS_SALVAGED: Final = "items_salvaged"
ITEMS_DROPPED: Final = "items_dropped"

logger = logging.getLogger("honeycomb_events")

_Item = TypeVar("_Item")
_TEXT_MADE: Final = frozenset({list, tuple, bytes})
_EMPTY_RESOURCE: Final = Resource.get_empty()


def add_attributes(
    fields: dict[str, Any], attributes: Mapping[str, Any] | None, counts: Counts
) -> bool:
    """Merge OTel attributes into `fields` (later wins), each value as `add_value` stores it:
    mappings flattened, arrays and bytes as JSON text. Empty keys and None values skipped.
    Fields that could not be converted are dropped, counted in `counts` and in the event's
    ``meta.dropped_fields``; nothing raises.

    True when every merged field already holds Honeycomb's per-value limits, as `_limits`
    answers it (`fields_within_limits`, `value_within_limits`), so that the encoder need not
    check each field again (see `_limits.mapped_event`). Attributes the SDK recorded nearly
    always do: they are checked in one loop and merged with one `dict.update`.
    """
    # The SDK's BoundedAttributes only takes non-empty string keys. Inlined from
    # `plain_attributes`: this runs for every span, span event and log record. The dict
    # inside is unwrapped first, since even the wrapper's len() is a Python call.
    keys_checked = type(attributes) is BoundedAttributes
    if keys_checked:
        inner = getattr(attributes, "_dict", None)
        if type(inner) is dict:
            attributes = inner
    if not attributes:
        return True
    if type(attributes) is not dict and not isinstance(attributes, Mapping):
        # A hand-built item's attributes may be anything: not attributes, one field lost.
        record_dropped(fields, 1, counts)  # type: ignore[unreachable]
        return False
    try:
        if fields_within_limits(attributes, keys_checked):
            fields.update(attributes)
            return True
        pairs = list(attributes.items())
    except Exception:  # a mapping whose own methods raise
        record_dropped(fields, 1, counts)
        return False
    return _convert_attributes(fields, pairs, counts)


def _convert_attributes(
    fields: dict[str, Any], pairs: list[tuple[Any, Any]], counts: Counts
) -> bool:
    """`add_attributes` for attributes that are not all plain: each through `add_value`."""
    checked = True
    dropped = 0
    for key, value in pairs:
        if value is None:
            continue
        if type(key) is not str:
            try:
                key = key_text(key)  # noqa: PLW2901 - the field name replaces the key
            except Exception:
                counts[VALUES_DROPPED] += 1
                dropped += 1
                continue
        if not key:
            continue
        cls = type(value)
        if cls is str or cls is bool or cls is int or cls is float:
            fields[key] = value
            checked = checked and value_within_limits(value)
        else:
            dropped += add_value(fields, key, value, counts)
            # An array or bytes becomes one string; what a mapping makes, the encoder checks.
            checked = checked and cls in _TEXT_MADE
    if dropped:
        record_dropped(fields, dropped, None)
    return checked


def record_dropped(fields: dict[str, Any], dropped: int, counts: Counts | None) -> None:
    """Add `dropped` to the event's ``meta.dropped_fields`` (and to `counts`, when given, as
    values that could not be converted)."""
    if counts is not None:
        counts[VALUES_DROPPED] += dropped
    fields[DROPPED_FIELDS] = dropped_count(fields.get(DROPPED_FIELDS), dropped)


@dataclass(frozen=True, slots=True)
class SharedFields:
    """The fields every event of one resource and scope carries, built once per export.

    `checked` says every field holds Honeycomb's per-value limits (see `add_attributes`);
    `unread` how many of an item's resource and scope could not be read (their loss is in
    the fields' ``meta.dropped_fields``).
    """

    fields: dict[str, Any]
    checked: bool
    unread: int = 0

    @classmethod
    def of(cls, *parts: Mapping[str, Any] | None, counts: Counts | None = None) -> SharedFields:
        """The fields of `parts` merged in order (later wins, but the counts of dropped
        fields add up), checked once."""
        fields: dict[str, Any] = {}
        checked = True
        counts = collections.Counter() if counts is None else counts
        for part in parts:
            before = fields.get(DROPPED_FIELDS)
            checked = add_attributes(fields, part, counts) and checked
            added = part.get(DROPPED_FIELDS) if type(part) is dict else None
            if type(before) is int and type(added) is int:
                fields[DROPPED_FIELDS] = dropped_count(before, added)
        return cls(fields, checked)


def resource_fields(
    attributes: Mapping[str, Any] | None, schema_url: str | None, counts: Counts
) -> dict[str, Any]:
    """The fields every event of a resource carries."""
    fields: dict[str, Any] = {}
    add_attributes(fields, attributes, counts)
    if schema_url:
        add_value(fields, "resource.schema_url", schema_url, counts)
    return fields


def scope_fields(scope: InstrumentationScope | None, counts: Counts) -> dict[str, Any]:
    """The fields every event of an instrumentation scope carries."""
    fields: dict[str, Any] = {}
    if scope is None:
        return fields
    name = scope.name
    if name:
        fields["library.name"] = name
        if type(name) is str and name.startswith(INSTRUMENTATION_PREFIXES):
            fields["telemetry.instrumentation_library"] = True
    if scope.version:
        fields["library.version"] = scope.version
    if scope.schema_url:
        fields["scope.schema_url"] = scope.schema_url
    checked = add_attributes(fields, getattr(scope, "attributes", None), counts)
    if not checked or type(name) is not str:
        # A hand-made scope may hold anything: its fixed fields pass the one conversion too.
        for key in ("library.name", "library.version", "scope.schema_url"):
            if key in fields:
                _convert_field(fields, key, counts)
    return fields


def _convert_field(fields: dict[str, Any], key: str, counts: Counts) -> None:
    try:
        fields[key] = single_value(fields[key], counts)
    except Exception:
        del fields[key]
        record_dropped(fields, 1, counts)


@dataclass(frozen=True, slots=True)
class ItemMapping(Generic[_Item]):
    """How one signal maps its items (spans, log records), each isolated from the others.

    `locate` gives an item's resource and scope; `to_events` its events, given the fields its
    resource and scope share; `salvage` the same events read part by part, each part checked,
    for an item `to_events` raised on: it is sent with every field that could be read.
    """

    kind: str
    locate: Callable[[_Item], tuple[Resource, InstrumentationScope | None]]
    to_events: Callable[[_Item, SharedFields, Counts], Sequence[BatchEvent]]
    salvage: Callable[[_Item, SharedFields, Counts], Sequence[BatchEvent]]


def group_by_resource(
    items: Iterable[_Item], mapping: ItemMapping[_Item], tally: LimitTally
) -> list[tuple[Resource, Iterator[BatchEvent]]]:
    """The events of every item, grouped by resource in the order of first appearance.
    Resource and scope fields are built once per export, not once per item: a batch holds
    few resources and scopes and many items. What the mapping transformed, dropped or
    salvaged is added to `tally`.

    Each group's events are made as its iterator is consumed: an exporter encodes each event
    right after it is made, while its fields are still in the CPU's caches, and never holds a
    whole batch of them. One item's failure costs that item's unreadable parts, never the
    batch.
    """
    by_resource: dict[int, tuple[Resource, list[_Item], list[SharedFields]]] = {}
    shared_by_pair: dict[tuple[int, int, int], SharedFields] = {}
    group_items: list[_Item] = []
    group_shared: list[SharedFields] = []
    shared = SharedFields({}, checked=True)  # replaced at the first item
    last: tuple[object, object] = (object(), object())
    counts: Counts = collections.Counter()
    locate = mapping.locate
    for item in items:
        located: tuple[object, object]
        try:
            located = locate(item)
        except Exception:
            located = _UNREADABLE
        # Items of one resource and scope usually come in a row: no lookup for those.
        if located[0] is not last[0] or located[1] is not last[1]:
            last = located
            resource, scope, unread = _checked_location(*located)
            pair = (id(resource), id(scope), unread)
            if pair not in shared_by_pair:
                shared_by_pair[pair] = shared_fields(resource, scope, unread, counts)
            shared = shared_by_pair[pair]
            group = by_resource.get(id(resource))
            if group is None:
                group = by_resource[id(resource)] = (resource, [], [])
            group_items, group_shared = group[1], group[2]
        group_items.append(item)
        group_shared.append(shared)
    if counts:
        tally.add_counts(counts)
    return [
        (resource, _events_of(group_items, group_shared, mapping, tally))
        for resource, group_items, group_shared in by_resource.values()
    ]


_UNREADABLE: Final = (object(), object())  # where an item's resource and scope cannot be read


def _checked_location(
    resource: object, scope: object
) -> tuple[Resource, InstrumentationScope | None, int]:
    """An item's resource and scope, and how many of the two could not be read (or are not
    what the SDK makes): an empty resource, or no scope, stands in for those."""
    readable, unread = readable_resource(resource)
    if scope is not None and not isinstance(scope, InstrumentationScope):
        scope, unread = None, unread + 1
    return readable, scope, unread


def readable_resource(resource: object) -> tuple[Resource, int]:
    """`resource` when it is a `Resource` whose attributes (a mapping) and schema URL read,
    else the empty resource; and 1 when it was not. Everything downstream (fields, the
    dataset) then reads it safely."""
    if isinstance(resource, Resource):
        try:
            attributes, schema_url = resource.attributes, resource.schema_url
        except Exception:  # properties that raise: nothing of it can be read
            return _EMPTY_RESOURCE, 1
        if (attributes is None or isinstance(attributes, Mapping)) and (
            schema_url is None or type(schema_url) is str
        ):
            return resource, 0
    return _EMPTY_RESOURCE, 1


def shared_fields(
    resource: Resource, scope: InstrumentationScope | None, unread: int, counts: Counts
) -> SharedFields:
    """The fields of a resource and scope; `unread` counts the parts of them that could not
    be read, which every item of theirs records as dropped (and counts as salvaged)."""
    parts: list[dict[str, Any]] = []
    lost = unread
    # A resource or scope whose properties raise costs one field's worth, counted.
    try:
        parts.append(resource_fields(resource.attributes, resource.schema_url, counts))
    except Exception:
        lost += 1
    try:
        parts.append(scope_fields(scope, counts))
    except Exception:
        lost += 1
    shared = SharedFields.of(*parts, counts=counts)
    if lost:  # parts that could not be read: each item of theirs is counted as salvaged
        record_dropped(shared.fields, lost, None)
        return SharedFields(shared.fields, checked=False, unread=lost)
    return shared


def _events_of(
    items: list[_Item],
    shared: list[SharedFields],
    mapping: ItemMapping[_Item],
    tally: LimitTally,
) -> Iterator[BatchEvent]:
    # Counts of one item are kept apart and added once it is mapped: an item that fails
    # half-way is mapped again, carefully, and must not count twice.
    counts: Counts = collections.Counter()
    to_events = mapping.to_events
    for item, fields in zip(items, shared, strict=True):
        try:
            events = to_events(item, fields, counts)
            if fields.unread:  # its resource or scope could not be read
                counts[ITEMS_SALVAGED] += 1
        except Exception:
            counts.clear()
            events = _salvaged(mapping, item, fields, counts)
        if counts:
            tally.add_counts(counts)
            counts.clear()
        yield from events


def _salvaged(
    mapping: ItemMapping[_Item], item: _Item, shared: SharedFields, counts: Counts
) -> Sequence[BatchEvent]:
    counts[ITEMS_SALVAGED] += 1
    try:
        return mapping.salvage(item, shared, counts)
    except Exception:  # a bug of ours: said once, counted always, and the batch goes on
        counts.clear()
        counts[ITEMS_DROPPED] += 1
        log_once(
            f"unmappable {mapping.kind}",
            "a %s could not be mapped at all and was dropped (counted in stats['items_dropped'])",
            mapping.kind,
            exc_info=True,
        )
        return ()


_LOGGED: set[str] = set()


def log_once(kind: str, message: str, *args: object, exc_info: bool = False) -> None:
    """Log a warning the first time a kind of failure happens in this process; after that,
    the counters in ``stats`` say how often."""
    if kind in _LOGGED:
        return
    _LOGGED.add(kind)
    logger.warning(message, *args, exc_info=exc_info)


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
