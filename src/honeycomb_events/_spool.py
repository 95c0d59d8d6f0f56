"""A durable spool: events that could not be delivered wait on disk for the backend to answer.

Opt-in (``HONEYCOMB_SPOOL_DIR``). Each spooled batch is one file holding one dataset's events,
already encoded, and no secret: the key comes from the settings of whoever sends them later.

- Writes are atomic: a batch is written to a hidden temporary file, flushed to disk, then
  renamed into place, so a crash leaves either the whole batch or nothing. A temporary file
  that a killed process left is removed once it is older than `lease_timeout`, and counted.
- The directory is made with mode 0700; files with mode 0600. A directory that another user
  owns, that others may write to, or that is a symbolic link is refused (a batch planted there
  would be sent with the application's key), and no file in it is read through a link.
- A batch that cannot be read or sent (a corrupt file, a dataset no request can name) is
  quarantined: renamed aside (``*.quarantined``) for a person to look at, and counted.
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
import stat
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import msgspec

from ._config import (
    DEFAULT_SPOOL_MAX_AGE,
    DEFAULT_SPOOL_MAX_BYTES,
    ENV_SPOOL_DIR,
    ENV_SPOOL_MAX_AGE,
    ENV_SPOOL_MAX_BYTES,
)
from ._errors import ConfigurationError
from ._notices import notice

BATCH_SUFFIX: Final = ".batch"
QUARANTINE_SUFFIX: Final = ".quarantined"
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
    """What a spool did: events written, taken out again, and dropped by reason; files set
    aside as unreadable or unsendable (counted as files: their events cannot be counted), and
    temporary files of killed processes removed."""

    events_spooled: int = 0
    events_unspooled: int = 0
    events_dropped_spool_full: int = 0
    events_dropped_expired: int = 0
    files_quarantined: int = 0
    files_stale_removed: int = 0


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
        if self._end():
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    def give_back(self, remaining: Sequence[bytes]) -> None:
        """Some events still need a send: they go back in the spool, keeping their age. (A
        lease given back at shutdown, while its send goes on, ends there: whatever the send
        comes to later changes nothing.)"""
        if not self._end():
            return
        if remaining:
            self.spool.write(
                self.dataset, self.encoding, remaining, created=self.created, returned=True
            )
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def sent(self, left: Sequence[bytes]) -> None:
        """After a send of the batch: the events not in `left` were delivered (or failed for
        good) and leave the spool; `left` goes back in it."""
        self.spool.count_unspooled(len(self.events) - len(left))
        if left:
            self.give_back(left)
        else:
            self.done()

    def _end(self) -> bool:
        """End the lease; False when it had ended already."""
        with self.spool._counts_lock:
            if self._ended:
                return False
            self._ended = True
            return True


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
        _checked_directory(self.directory)

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
            self._say(
                "full",
                f"{len(events)} events to {dataset!r} are over the spool's size limit "
                f"({ENV_SPOOL_MAX_BYTES}) and were dropped",
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
                self._say(
                    "full",
                    f"the spool in {self.directory} is full: dropped its oldest batch "
                    f"({count} events); raise {ENV_SPOOL_MAX_BYTES} to keep more",
                )

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
            content = _read_no_link(path)
            line, _, rest = content.partition(b"\n")
            header = msgspec.json.decode(line, type=_Header)
            if header.format != _FORMAT or sum(header.sizes) != len(rest):
                raise ValueError("the sizes do not match the content")
        except (OSError, ValueError, msgspec.MsgspecError) as error:
            self._quarantine(path, error)
            return None
        if time.time() - header.created > self.max_age:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            self._count(events_dropped_expired=len(header.sizes))
            self._say(
                "expired",
                f"dropped {len(header.sizes)} spooled events to {header.dataset!r}: older than "
                f"the spool's age limit ({ENV_SPOOL_MAX_AGE})",
            )
            return None
        events = []
        offset = 0
        for size in header.sizes:
            events.append(rest[offset : offset + size])
            offset += size
        return Lease(self, path, header.dataset, header.encoding, events, header.created)

    def quarantine(self, lease: Lease, error: Exception) -> None:
        """Set a leased batch aside: it could be read but not sent (its dataset, say)."""
        if lease._end():
            self._quarantine(lease.path, error)

    def _quarantine(self, path: Path, error: Exception) -> None:
        original = path.name.partition(_LEASE_MARK)[0]
        with contextlib.suppress(FileNotFoundError):
            os.rename(path, self.directory / f"{original}{QUARANTINE_SUFFIX}")
        self._count(files_quarantined=1)
        self._say(
            "quarantine",
            f"a spooled batch that cannot be sent was set aside as "
            f"{original}{QUARANTINE_SUFFIX} in {self.directory}: {error}",
        )

    def _say(self, kind: str, message: str) -> None:
        """Once per process and directory on stderr; every time to the app's handlers."""
        notice(f"spool {kind} {self.directory}", message, again=logging.WARNING)

    def _reclaim_abandoned(self) -> None:
        now = time.time()
        for entry in os.scandir(self.directory):
            name = entry.name
            if name.startswith(".") and name.endswith(".tmp"):
                self._remove_if_stale(entry, now)
                continue
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

    def _remove_if_stale(self, entry: os.DirEntry[str], now: float) -> None:
        """A temporary file a killed process left: it never became a batch, and only takes
        space."""
        try:
            if now - entry.stat(follow_symlinks=False).st_mtime <= self.lease_timeout:
                return
            os.unlink(entry.path)
        except FileNotFoundError:
            return
        self._count(files_stale_removed=1)


def _checked_directory(directory: Path) -> None:
    """Make the spool's directory (mode 0700), or check an existing one; a
    `ConfigurationError` naming ``HONEYCOMB_SPOOL_DIR`` for one that is not safe to use."""

    def refused(why: str) -> ConfigurationError:
        return ConfigurationError(f"{ENV_SPOOL_DIR} {str(directory)!r} {why}")

    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        status = os.lstat(directory)
    except FileExistsError:
        raise refused("is a file, not a directory") from None
    except OSError as error:
        raise refused(f"cannot be made or read: {error.strerror or error}") from None
    if stat.S_ISLNK(status.st_mode):
        raise refused("is a symbolic link: name the directory itself")
    if not stat.S_ISDIR(status.st_mode):
        raise refused("is not a directory")
    if hasattr(os, "geteuid") and status.st_uid != os.geteuid():
        raise refused(
            "belongs to another user, who could plant batches there to be sent with this "
            "process's key: use a directory of this user's"
        )
    if status.st_mode & 0o022:
        raise refused(
            f"can be written by other users (mode {stat.S_IMODE(status.st_mode):o}): "
            "chmod 700 it, or use another"
        )
    # mkdir's mode is masked by the umask, and an existing directory keeps its own.
    with contextlib.suppress(PermissionError):
        os.chmod(directory, 0o700)


def _read_no_link(path: Path) -> bytes:
    """A file's content, refusing a symbolic link (a planted one could point anywhere)."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(descriptor, "rb") as file:
        return file.read()
