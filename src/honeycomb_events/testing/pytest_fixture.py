"""What the `honeycomb_receiver` fixture does: a receiver for one test, with the environment
pointing at it. The fixture itself is in `honeycomb_events_pytest`, the plugin pytest loads in
every run, which imports this only when a test asks for it. Needs pytest (its `MonkeyPatch`),
which `honeycomb_events.testing` itself does not.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

import pytest

from ._received import ReceivedTelemetry

if TYPE_CHECKING:
    from honeycomb_events.receiver import Receiver

TEST_API_KEY: Final = "hcaik_01" + "test" * 14 + "01"
"""An ingest key of an environment, by its shape: spans go to their service's dataset, as with
a real environment key. The receiver accepts any non-blank key."""

_SIGNAL_OVERRIDES: Final = tuple(
    f"HONEYCOMB_{signal}_{setting}"
    for signal in ("TRACES", "METRICS", "LOGS")
    for setting in ("APIKEY", "ENDPOINT")
)

_MISSING_EXTRA: Final = (
    "honeycomb_receiver needs the receiver's Starlette and uvicorn: "
    "pip install 'honeycomb-events[receiver]'"
)


def receiver_for_test(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReceivedTelemetry]:
    """A local receiver on 127.0.0.1 (a free port, events in memory), with
    `HONEYCOMB_API_ENDPOINT` and `HONEYCOMB_API_KEY` pointing at it through `monkeypatch`
    until it is stopped: the body of the `honeycomb_receiver` fixture."""
    receiver_type = _receiver_type()
    if receiver_type is None:
        pytest.fail(_MISSING_EXTRA, pytrace=False)
    # A per-signal key or endpoint from outside would send that signal elsewhere.
    for name in _SIGNAL_OVERRIDES:
        if name in os.environ:
            monkeypatch.delenv(name)
    with receiver_type() as receiver:
        monkeypatch.setenv("HONEYCOMB_API_ENDPOINT", receiver.url)
        monkeypatch.setenv("HONEYCOMB_API_KEY", TEST_API_KEY)
        yield ReceivedTelemetry(receiver, TEST_API_KEY)


def _receiver_type() -> type[Receiver] | None:
    """The receiver, imported only now; None without the extra (failing here would chain the
    ImportError's traceback to the one line the user needs)."""
    try:
        from honeycomb_events.receiver import Receiver  # noqa: PLC0415 - the optional extra
    except ImportError:
        return None
    return Receiver
