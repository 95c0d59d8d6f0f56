"""Where ``query`` reads: a receiver's database file, opened read-only, or a running receiver
over HTTP; and the time options both take."""

from __future__ import annotations

import argparse
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from honeycomb_events._config import ENV_API_KEY
from honeycomb_events._query_spec import QueryError
from honeycomb_events._query_time import duration_ns, moment_ns

from ._common import (
    EXIT_USAGE,
    PROG,
    CommandError,
    error,
    json_decoder,
    json_encoder,
    require_receiver,
)
from ._keys import key_variable
from ._serve import ENV_RECEIVER_API_KEYS

if TYPE_CHECKING:
    from honeycomb_events.receiver import EventStore

T = TypeVar("T")


def parse_time_ns(text: str, now_ns: int | None = None) -> int:
    """Nanoseconds since the epoch for ``--since``/``--until``: RFC3339, ``now``, or a time
    ago such as ``90s``, ``15m``, ``2h``, ``1d``, ``1w``, ``1h30m`` (also ``500ms``, ``1.5h``),
    as the query page reads them."""
    try:
        return moment_ns(text, time.time_ns() if now_ns is None else now_ns)
    except QueryError as problem:
        raise argparse.ArgumentTypeError(str(problem)) from None


def term_argument(parse: Callable[[str], T]) -> Callable[[str], T]:
    """`parse` (a query term's reader) as an argparse type: its `QueryError` is a usage
    error, with the same text."""

    def read(text: str) -> T:
        try:
            return parse(text)
        except QueryError as problem:
            raise argparse.ArgumentTypeError(str(problem)) from None

    return read


def time_argument(text: str) -> int:
    return parse_time_ns(text)


def duration_argument(text: str) -> int:
    """``--granularity``: ``30s``, ``1m``, ``1h``, ``500ms``; a bare number is seconds."""
    nanos = duration_ns(text if not text.strip().isdigit() else f"{text.strip()}s")
    if nanos is None or nanos <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 30s, 1m or 1h")
    return nanos


@contextmanager
def open_database(path: str) -> Iterator[EventStore]:
    """The receiver's database at `path`, read-only; usage errors for anything else."""
    if not os.path.isfile(path):
        raise CommandError(
            f"no database at {path}; `{PROG} serve --db {path}` creates one", EXIT_USAGE
        )
    require_receiver()
    from honeycomb_events.receiver import EventStore

    try:
        store = EventStore.open_read_only(path)
    except ValueError as problem:
        raise CommandError(f"{path} is not a receiver's database: {problem}", EXIT_USAGE) from None
    except sqlite3.Error as problem:
        raise CommandError(
            f"cannot read {path} as a receiver's database: {problem}", EXIT_USAGE
        ) from None
    try:
        with store:
            yield store
    except sqlite3.Error as problem:
        raise CommandError(f"cannot read {path} as a receiver's database: {problem}") from None


def unknown_dataset(err: TextIO, dataset: str, known: list[str], source: str) -> bool:
    """Say so on stderr, with the datasets there are, when `dataset` is not one of them."""
    if dataset.lower() in {name.lower() for name in known}:
        return False
    shown = ", ".join(repr(name) for name in known) or "none"
    error(err, "query", f"no dataset {dataset!r} in {source} (datasets: {shown})")
    return True


class ReceiverClient:
    """Requests to a running receiver's control endpoints. A receiver given keys wants one
    there too: the key of the ``--api-key-env`` variable, when it is set."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.base = str(args.url).rstrip("/")
        self.variable = key_variable(args)
        key = os.environ.get(self.variable, "").strip()
        self._headers = {"X-Honeycomb-Team": key} if key else {}

    def dataset_path(self, prefix: str, dataset: str, suffix: str = "") -> str:
        return f"{prefix}/{quote(dataset, safe='')}{suffix}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        accept: tuple[int, ...] = (200,),
    ) -> tuple[int, Any]:
        """The status and decoded JSON answer; `CommandError` for a refused key, a status
        not in `accept`, no answer, or an answer that is not JSON."""
        content = None if body is None else json_encoder.encode(body)
        headers = dict(self._headers)
        if content is not None:
            headers["Content-Type"] = "application/json"
        try:
            with httpx.Client(timeout=120.0, headers=headers) as http:
                response = http.request(method, self.base + path, params=params, content=content)
            if response.status_code == 401:
                done = "was not one of its keys" if self._headers else "was not set"
                raise CommandError(
                    f"the receiver at {self.base} accepts only its own keys, and "
                    f"{self.variable} {done}: set {self.variable} to one of them "
                    f"(serve's {ENV_RECEIVER_API_KEYS})"
                )
            if response.status_code not in accept:
                raise CommandError(
                    f"{self.base} answered {response.status_code} to {method} {path}: "
                    f"{response.text[:200]}"
                )
            return response.status_code, json_decoder.decode(response.content)
        except httpx.HTTPError as problem:
            raise CommandError(
                f"cannot reach the receiver at {self.base} ({type(problem).__name__}: "
                f"{problem}); is `{PROG} serve` running there?"
            ) from None
        except msgspec.DecodeError:
            raise CommandError(
                f"{self.base} did not answer with JSON: is it a {PROG} receiver?"
            ) from None

    def datasets(self) -> list[str]:
        _, known = self.request("GET", "/_receiver/datasets")
        if not isinstance(known, list):
            raise CommandError(
                f"{self.base} answered with an unexpected shape: is it a {PROG} receiver?"
            )
        return [str(name) for name in known]


def key_help() -> str:
    return (
        "with --url: the variable holding one of the receiver's keys, if it was given keys "
        f"(default: {ENV_API_KEY})"
    )
