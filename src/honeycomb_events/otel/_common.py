"""What every signal's mapping shares: attribute values, resource and scope fields, sample rates
and dataset routing, as Honeycomb's own OTLP translation does them (see mapping.md).

Everything here is a pure function of SDK objects: no I/O, no global state.
"""

from __future__ import annotations

import base64
import decimal
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TypeVar

import msgspec
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

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
_Item = TypeVar("_Item")
_THRESHOLD_DIGITS: Final = 14  # an OTel sampling threshold is 56 bits: 14 hex digits
_THRESHOLD_SPACE: Final = 1 << 56


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


def add_attributes(fields: dict[str, Any], attributes: Mapping[str, Any] | None) -> None:
    """Merge OTel attributes into `fields` (later wins); empty keys and None values skipped."""
    if not attributes:
        return
    for key, value in attributes.items():
        if not key or value is None:
            continue
        cls = type(value)
        if cls is str or cls is int or cls is float or cls is bool:
            fields[key] = value
        else:
            converted = attribute_value(value)
            if converted is not None:
                fields[key] = converted


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


def group_by_resource(
    items: Iterable[_Item],
    locate: Callable[[_Item], tuple[Resource, InstrumentationScope | None]],
    to_events: Callable[[_Item, Mapping[str, Any], Mapping[str, Any]], Iterable[BatchEvent]],
) -> list[tuple[Resource, list[BatchEvent]]]:
    """The events of every item (span, log record), grouped by resource in the order of first
    appearance. `locate` gives an item's resource and scope; their fields are built once per
    export, not once per item: a batch holds few resources and scopes and many items.
    """
    by_resource: dict[int, tuple[Resource, list[BatchEvent]]] = {}
    resources: dict[int, dict[str, Any]] = {}
    scopes: dict[int, dict[str, Any]] = {}
    for item in items:
        resource, scope = locate(item)
        group = by_resource.get(id(resource))
        if group is None:
            group = by_resource[id(resource)] = (resource, [])
            resources[id(resource)] = resource_fields(resource.attributes, resource.schema_url)
        shared_scope = scopes.get(id(scope))
        if shared_scope is None:
            shared_scope = scopes[id(scope)] = (
                {}
                if scope is None
                else scope_fields(
                    scope.name, scope.version, scope.schema_url, getattr(scope, "attributes", None)
                )
            )
        group[1].extend(to_events(item, resources[id(resource)], shared_scope))
    return list(by_resource.values())


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
