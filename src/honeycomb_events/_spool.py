"""A durable spool: events that could not be delivered wait on disk for the backend to answer.

Opt-in (``HONEYCOMB_SPOOL_DIR``). Each spooled batch is one file holding one dataset's events,
already encoded, and no secret: the key comes from the settings of whoever sends them later.

- Writes are atomic: a batch is written to a hidden temporary file, flushed to disk, then
  renamed into place, so a crash leaves either the whole batch or nothing.
- The directory is made with mode 0700; files with mode 0600.
- Size and age are bounded: a batch older than `max_age` is deleted unsent; to stay under
  `max_bytes`, the oldest batches are deleted first (fresher telemetry is worth more). Both are
  counted.
- Sending takes a lease: the batch is renamed to a lease name that says who took it and when,
  which only one process can do. A lease is ended by deleting the batch (sent, or failed for
  good) or by writing back what is left. A lease older than `lease_timeout` belongs to a
  process that died and is taken back, so a crash never loses a batch; it can only make one
  be sent again (delivery is at least once, as over the network).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import msgspec

from ._config import DEFAULT_SPOOL_MAX_AGE, DEFAULT_SPOOL_MAX_BYTES

_logger = logging.getLogger("honeycomb_events")

BATCH_SUFFIX: Final = ".batch"
_LEASE_MARK: Final = ".lease-"
_FORMAT: Final = 1

DEFAULT_LEASE_TIMEOUT: Final = 300.0


class _Header(msgspec.Struct, frozen=True):
    format: int
    dataset: str
    encoding: str
    created: float
    sizes: list[int]


@dataclass
class SpoolCounts:
    """What a spool did: events written, taken out again, and dropped by reason (unreadable
    files are counted as files: their events cannot be counted)."""

    events_spooled: int = 0
    events_unspooled: int = 0
    events_dropped_spool_full: int = 0
    events_dropped_expired: int = 0
    files_dropped_unreadable: int = 0


@dataclass
class Lease:
    """One spooled batch, held by this process until `done` or `give_back`."""

    spool: Spool
    path: Path
    dataset: str
    encoding: str
    events: list[bytes]
    created: float
    _ended: bool = field(default=False, repr=False)

    def done(self) -> None:
        """Every event was delivered or failed for good: the batch is gone."""
        self._end()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def give_back(self, remaining: Sequence[bytes]) -> None:
        """Some events still need a send: they go back in the spool, keeping their age."""
        self._end()
        if remaining:
            self.spool.write(
                self.dataset, self.encoding, remaining, created=self.created, returned=True
            )
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _end(self) -> None:
        if self._ended:
            raise RuntimeError("this lease was already ended")
        self._ended = True


class Spool:
    """Spooled batches in one directory; safe across threads and processes."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        max_bytes: int = DEFAULT_SPOOL_MAX_BYTES,
        max_age: float = DEFAULT_SPOOL_MAX_AGE,
        lease_timeout: float = DEFAULT_LEASE_TIMEOUT,
    ) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.max_age = max_age
        self.lease_timeout = lease_timeout
        self.counts = SpoolCounts()
        self._counts_lock = threading.Lock()
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkdir's mode is masked by the umask, and an existing directory keeps its own.
        with contextlib.suppress(PermissionError):
            os.chmod(self.directory, 0o700)

    def __repr__(self) -> str:
        return f"Spool({str(self.directory)!r})"

    def _count(self, **counts: int) -> None:
        with self._counts_lock:
            for name, value in counts.items():
                setattr(self.counts, name, getattr(self.counts, name) + value)

    def count_unspooled(self, events: int) -> None:
        """`events` taken out of the spool were delivered (or failed for good)."""
        self._count(events_unspooled=events)

    def write(
        self,
        dataset: str,
        encoding: str,
        events: Sequence[bytes],
        *,
        created: float | None = None,
        returned: bool = False,
    ) -> int:
        """Spool `events` (each one encoded event) for `dataset`; the number written (0 when
        the batch alone is over the size limit). `returned` events come back from a lease:
        they were counted when first spooled."""
        if not events:
            return 0
        header = _Header(
            _FORMAT,
            dataset,
            encoding,
            time.time() if created is None else created,
            [len(event) for event in events],
        )
        content = msgspec.json.encode(header) + b"\n" + b"".join(events)
        if len(content) > self.max_bytes:
            self._count(events_dropped_spool_full=len(events))
            _logger.warning(
                "%d events to %r are over the spool's size limit and were dropped",
                len(events),
                dataset,
            )
            return 0
        self._make_room(len(content))
        # Named by creation time, so that a batch written back keeps its place in the line.
        name = f"{int(header.created * 1e9):020d}-{os.getpid()}-{uuid.uuid4().hex}{BATCH_SUFFIX}"
        temporary = self.directory / f".{name}.tmp"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.directory / name)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            raise
        if not returned:
            self._count(events_spooled=len(events))
        return len(events)

    def _make_room(self, needed: int) -> None:
        batches = self._batches()
        total = sum(size for _, size in batches)
        for path, size in batches:  # oldest first
            if total + needed <= self.max_bytes:
                return
            count = self._count_events(path)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                total -= size
                self._count(events_dropped_spool_full=count)
                _logger.warning("the spool is full: dropped its oldest batch (%d events)", count)

    def _batches(self) -> list[tuple[Path, int]]:
        """Spooled (unleased) batches and their sizes, oldest first."""
        found = []
        for entry in os.scandir(self.directory):
            if entry.name.endswith(BATCH_SUFFIX) and not entry.name.startswith("."):
                with contextlib.suppress(FileNotFoundError):
                    found.append((Path(entry.path), entry.stat().st_size))
        found.sort(key=lambda item: item[0].name)
        return found

    def _count_events(self, path: Path) -> int:
        try:
            with path.open("rb") as file:
                return len(msgspec.json.decode(file.readline(), type=_Header).sizes)
        except (OSError, msgspec.MsgspecError):
            return 0

    def pending(self) -> int:
        """How many batches wait (leased ones not counted)."""
        return len(self._batches())

    def leases(self) -> Iterator[Lease]:
        """Lease the spooled batches one at a time, oldest first.

        Batches past the age limit are deleted and counted; unreadable ones too. Abandoned
        leases (older than `lease_timeout`) are taken back first.
        """
        self._reclaim_abandoned()
        for path, _ in self._batches():
            leased = path.with_name(f"{path.name}{_LEASE_MARK}{os.getpid()}-{time.time():.3f}")
            try:
                os.rename(path, leased)
            except FileNotFoundError:  # another process leased it first
                continue
            lease = self._read(leased)
            if lease is not None:
                yield lease

    def _read(self, path: Path) -> Lease | None:
        try:
            content = path.read_bytes()
            line, _, rest = content.partition(b"\n")
            header = msgspec.json.decode(line, type=_Header)
            if header.format != _FORMAT or sum(header.sizes) != len(rest):
                raise ValueError("the sizes do not match the content")
        except (OSError, ValueError, msgspec.MsgspecError) as error:
            _logger.warning("dropped an unreadable spool file %s: %s", path.name, error)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            self._count(files_dropped_unreadable=1)
            return None
        if time.time() - header.created > self.max_age:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            self._count(events_dropped_expired=len(header.sizes))
            _logger.warning(
                "dropped %d spooled events to %r: older than the spool's age limit",
                len(header.sizes),
                header.dataset,
            )
            return None
        events = []
        offset = 0
        for size in header.sizes:
            events.append(rest[offset : offset + size])
            offset += size
        return Lease(self, path, header.dataset, header.encoding, events, header.created)

    def _reclaim_abandoned(self) -> None:
        now = time.time()
        for entry in os.scandir(self.directory):
            name = entry.name
            if _LEASE_MARK not in name or name.startswith("."):
                continue
            original, _, owner = name.partition(_LEASE_MARK)
            try:
                taken = float(owner.rsplit("-", 1)[1])
            except (IndexError, ValueError):
                taken = 0.0
            if now - taken > self.lease_timeout:
                with contextlib.suppress(FileNotFoundError):
                    os.rename(entry.path, self.directory / original)
