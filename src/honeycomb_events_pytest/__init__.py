"""The pytest plugin of honeycomb-events (a ``pytest11`` entry point): the `honeycomb_receiver`
fixture (docs/testing.md).

pytest imports this module at the start of every run in every project where the package is
installed, so it imports nothing but pytest: not even `honeycomb_events`, whose import costs a
quarter of a second. The fixture imports `honeycomb_events.testing.pytest_fixture` when a test
asks for it.
Nothing here is autouse.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from honeycomb_events.testing import ReceivedTelemetry


@pytest.fixture
def honeycomb_receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReceivedTelemetry]:
    """A local receiver on 127.0.0.1 (a free port, events in memory) for this test, with
    `HONEYCOMB_API_ENDPOINT` and `HONEYCOMB_API_KEY` pointing at it until the test ends."""
    from honeycomb_events.testing.pytest_fixture import receiver_for_test  # noqa: PLC0415

    yield from receiver_for_test(monkeypatch)
