"""Testing what an application sends to Honeycomb, against a local receiver.

The pytest plugin (`honeycomb_events_pytest`, registered when the package is installed)
gives each test that asks for it a `honeycomb_receiver`: a `ReceivedTelemetry` around a
started `honeycomb_events.receiver.Receiver`, with `HONEYCOMB_API_ENDPOINT` and
`HONEYCOMB_API_KEY` pointing at it. The receiver needs the `receiver` extra; this module and
the plugin do not, so that installing the package costs pytest runs nothing.
"""

from __future__ import annotations

from ._flush import flush_providers
from ._received import ReceivedTelemetry
from ._spans import Span, Trace

__all__ = ["ReceivedTelemetry", "Span", "Trace", "flush_providers"]
