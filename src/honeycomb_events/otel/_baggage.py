"""Baggage onto spans, as Honeycomb's OpenTelemetry distro does: each entry of the baggage
current when a span starts becomes an attribute of that span, under the entry's own name, and
so a field of its event (setup.md, "Baggage on spans").

Baggage travels to every downstream service in the ``baggage`` header, and each entry becomes
a field in Honeycomb: nothing secret belongs in it.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Mapping
from typing import Final

from opentelemetry import baggage
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Span, SpanProcessor, TracerProvider

from honeycomb_events._config import TRUE_WORDS
from honeycomb_events._notices import notice

ENV_BAGGAGE_TO_SPANS: Final = "HONEYCOMB_BAGGAGE_TO_SPANS"

_FALSE: Final = frozenset({"false", "0", "no", "off"})


class BaggageSpanProcessor(SpanProcessor):
    """Copies the entries of the starting span's parent context's baggage onto the span as
    attributes, as the ``BaggageSpanProcessor`` the distro adds (every key allowed).

    Unlike it, an attribute the span was started with is kept: the span's own value is the
    more specific, and the ``SampleRate`` a sampler set must not be replaced by baggage."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        entries = baggage.get_all(parent_context)
        if not entries:
            return
        own = span.attributes or {}
        for key, value in entries.items():
            if key not in own:
                span.set_attribute(key, value)  # type: ignore[arg-type]


def baggage_to_spans(
    argument: bool | None = None, environ: Mapping[str, str] | None = None
) -> bool:
    """Whether to copy baggage onto spans: `argument` when given, else
    ``HONEYCOMB_BAGGAGE_TO_SPANS`` (``true`` or ``false``), else yes, as the distro does."""
    if argument is not None:
        return argument
    env = os.environ if environ is None else environ
    value = (env.get(ENV_BAGGAGE_TO_SPANS) or "").strip()
    if not value or value.lower() in TRUE_WORDS:
        return True
    if value.lower() in _FALSE:
        return False
    notice(
        "baggage setting",
        f"{ENV_BAGGAGE_TO_SPANS}={value[:40]!r} is neither true nor false: baggage is copied "
        "onto spans, the default",
    )
    return True


_given: weakref.WeakSet[TracerProvider] = weakref.WeakSet()
_lock = threading.Lock()


def copy_baggage_in(provider: TracerProvider) -> None:
    """Add a `BaggageSpanProcessor` to `provider`, once however often it is asked."""
    with _lock:
        if provider in _given:
            return
        _given.add(provider)
    provider.add_span_processor(BaggageSpanProcessor())
