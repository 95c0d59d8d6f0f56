"""Links to traces, for a developer watching the console: with
``HONEYCOMB_ENABLE_LOCAL_VISUALIZATIONS=true`` (the distro's variable), the span exporter prints,
for each root span it exports, a link to its trace in Honeycomb's UI, or on the local receiver's
own trace page when it sends there.

The team and environment slugs a link needs come from ``GET <endpoint>/1/auth``, asked once, in
a thread of its own: an export never waits for it, and never fails because of it. Root spans
exported before the answer wait for it (a bounded number of them); if it never comes, one line
on stderr says why and the links stop.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Final
from urllib.parse import quote, urlsplit

import httpx
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan

from honeycomb_events._config import ENV_LOCAL_VISUALIZATIONS, Settings
from honeycomb_events._http import identity_headers, tls_verification
from honeycomb_events._notices import notice

RECEIVER_HEADER: Final = "X-Honeycomb-Events-Receiver"
"""Said by the local receiver's ``/1/auth`` answer: its own pages show the traces."""
_WAITING_AT_MOST: Final = 1_000
"""Root spans kept while the slugs are asked for; later ones get no link."""
_AUTH_TIMEOUT: Final = 10.0
_REMEMBERED: Final = 10_000
"""Traces whose link was printed, remembered so that a root span exported again gets none;
the oldest are forgotten, so that a process linking traces for days holds no more."""


def local_visualizations() -> bool:
    return os.environ.get(ENV_LOCAL_VISUALIZATIONS, "").strip().lower() in ("1", "true", "yes")


class TraceLinks:
    """Prints ``Honeycomb link: <url>`` on stderr for each root span given to `note`."""

    def __init__(self, settings: Settings, dataset_for: Callable[[Resource], str]) -> None:
        self._settings = settings
        self._dataset_for = dataset_for
        self._lock = threading.Lock()
        self._link: Callable[[str, int], str] | None = None
        self._waiting: list[tuple[str, int]] | None = []  # None once the slugs cannot come
        self._seen: dict[int, None] = {}  # the last `_REMEMBERED` traces linked, oldest first
        threading.Thread(target=self._learn, name="honeycomb-trace-links", daemon=True).start()

    def note(self, spans: Sequence[ReadableSpan]) -> None:
        """Link the traces of the root spans among `spans` (at once, or once the slugs come)."""
        try:
            roots = [span for span in spans if span.parent is None and span.context is not None]
            found = [(self._dataset_for(span.resource), span.context.trace_id) for span in roots]
        except Exception:  # a span that cannot be read gets no link; its export goes on
            return
        if not found:
            return
        with self._lock:
            link, waiting = self._link, self._waiting
            if link is None:
                if waiting is not None:
                    waiting.extend(found[: _WAITING_AT_MOST - len(waiting)])
                return
        self._print(link, found)

    def _print(self, link: Callable[[str, int], str], found: list[tuple[str, int]]) -> None:
        lines = []
        seen = self._seen
        for dataset, trace_id in found:
            if trace_id not in seen:
                seen[trace_id] = None
                lines.append(f"Honeycomb link: {link(dataset, trace_id)}\n")
        while len(seen) > _REMEMBERED:
            del seen[next(iter(seen))]
        if lines:
            with contextlib.suppress(OSError, ValueError):  # a closed stderr: nothing to say
                sys.stderr.write("".join(lines))
                sys.stderr.flush()

    def _learn(self) -> None:
        try:
            link = self._ask()
        except Exception as error:  # any failure turns the links off, said once
            notice(
                "trace links",
                f"no trace links ({ENV_LOCAL_VISUALIZATIONS}): could not learn the team and "
                f"environment from {self._settings.endpoint}/1/auth: "
                f"{self._settings.api_key.scrubbed(str(error))}",
            )
            with self._lock:
                self._waiting = None
            return
        with self._lock:
            self._link, waiting, self._waiting = link, self._waiting or [], None
        self._print(link, waiting)

    def _ask(self) -> Callable[[str, int], str]:
        settings = self._settings
        endpoint = settings.endpoint.rstrip("/")
        answer = httpx.get(
            f"{endpoint}/1/auth",
            # As every request of this package's: a proxy that needs the user's headers or
            # certificate needs them here too.
            headers=identity_headers(settings),
            timeout=_AUTH_TIMEOUT,
            verify=tls_verification(settings),
        )
        answer.raise_for_status()
        if RECEIVER_HEADER in answer.headers:
            return lambda _dataset, trace_id: f"{endpoint}/trace/{trace_id:032x}"
        auth = answer.json()
        base = f"{_ui(endpoint)}/{quote(auth['team']['slug'], safe='')}"
        environment = (auth.get("environment") or {}).get("slug")
        if environment and not settings.api_key.is_classic:
            base += f"/environments/{quote(environment, safe='')}"
        return lambda dataset, trace_id: (
            f"{base}/datasets/{quote(dataset, safe='')}/trace?trace_id={trace_id:032x}"
        )


def _ui(endpoint: str) -> str:
    """Honeycomb's UI for an API endpoint: ``api.eu1.honeycomb.io`` has ``ui.eu1.honeycomb.io``;
    any other endpoint (a proxy, Refinery) is taken to send to the US one."""
    host = urlsplit(endpoint).hostname or ""
    if host.startswith("api.") and host.endswith(".honeycomb.io"):
        return f"https://ui.{host.removeprefix('api.')}"
    return "https://ui.honeycomb.io"
