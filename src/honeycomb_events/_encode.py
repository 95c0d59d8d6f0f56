"""One batch encoder: events to request bodies for ``POST /1/batch/<dataset>``.

Each event is encoded once, on its own. A body is then the events' bytes framed as one array
(`[a,b,c]` in JSON, an array header in msgpack), so a batch can be split at the body limit, and
the events a server asked to retry can be resent, without encoding anything twice.
"""

from __future__ import annotations

import gzip
import threading
from array import array
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, overload

import msgspec
import zstandard

from ._formats import Compression, Encoding
from ._limits import (
    MAX_BODY_BYTES,
    MAX_EVENT_BYTES,
    SMALL_EVENT_BYTES,
    EventFit,
    LimitTally,
    data_within_limits,
    sanitize_fields,
    wire_item,
)
from ._model import BatchEvent

# Encoding and Compression are defined in `_formats`, below the configuration; the package's
# public names still come from here.
__all__ = ["BatchEncoder", "Body", "EncodedEvents"]

ZSTD_LEVEL: Final = 1
"""Level 1 costs about a microsecond per span and still shrinks JSON events 6-10 times."""
GZIP_LEVEL: Final = 1

# Compression adds a few bytes of framing per block; keeping the raw body this far below the
# limit keeps the compressed body below it too, even for data that does not compress.
_COMPRESSION_HEADROOM: Final = 4096


@dataclass(frozen=True, slots=True)
class Body:
    """One request body and the positions, in the caller's event list, of its events."""

    positions: Sequence[int]
    content: bytes
    raw_size: int


class EncodedEvents(Sequence[bytes]):
    """Events encoded one after another into one buffer that is, as it stands, the raw body
    of a batch holding all of them: ``[a,b,c]`` in JSON, an array header and the events in
    msgpack. Indexing gives one event's bytes, for bodies that hold only some of them.

    One growing buffer spares each event its own bytes object (msgspec grows a new one from
    a few bytes for every call) and the batch the copy of joining them.

    `whole` is the body of every event at once, once `BatchEncoder.compress_whole` made it;
    the buffer is then set aside and made again from it only when asked for (a retry of some
    of the events, the spool): a batch that waits or travels holds its compressed bytes only.
    """

    __slots__ = ("_ends", "_raw", "_restore", "_starts", "raw_size", "whole")

    def __init__(
        self, buffer: bytes | bytearray, starts: Sequence[int], ends: Sequence[int]
    ) -> None:
        self._raw: bytes | bytearray | None = buffer
        # Machine integers: a batch that waits holds 16 bytes an event for them, not 72.
        self._starts = array("q", starts)
        self._ends = array("q", ends)
        self.raw_size = len(buffer)
        self.whole: Body | None = None
        self._restore: Callable[[bytes], bytes] | None = None

    @property
    def buffer(self) -> bytes | bytearray:
        """The raw body of all the events, made again from `whole` if it was set aside."""
        if self._raw is None:
            self._raw = self._made_again()
        return self._raw

    def _made_again(self) -> bytes:
        if self.whole is None or self._restore is None:
            raise RuntimeError("a batch set aside without its body")
        return self._restore(self.whole.content)

    def set_aside(self, whole: Body, restore: Callable[[bytes], bytes]) -> None:
        """Keep `whole` only, the body of every event, from which `restore` makes the buffer
        again."""
        self.whole = whole
        self._restore = restore
        self._raw = None

    def __len__(self) -> int:
        return len(self._starts)

    @overload
    def __getitem__(self, index: int) -> bytes: ...

    @overload
    def __getitem__(self, index: slice) -> list[bytes]: ...

    def __getitem__(self, index: int | slice) -> bytes | list[bytes]:
        if isinstance(index, slice):
            return [self[position] for position in range(len(self))[index]]
        return bytes(self.buffer[self._starts[index] : self._ends[index]])

    def at(self, positions: Iterable[int]) -> list[bytes]:
        """The bytes of the events at `positions`. A batch set aside stays so: its buffer is
        made again for this call only (a batch that failed and waits would otherwise hold
        its raw bytes beside its body)."""
        raw = self._raw if self._raw is not None else self._made_again()
        starts, ends = self._starts, self._ends
        return [bytes(raw[starts[index] : ends[index]]) for index in positions]

    def size(self, index: int) -> int:
        """The length of one event's bytes, without copying them."""
        return self._ends[index] - self._starts[index]


class _WrittenEvent(BatchEvent):
    """An event and its bytes in a batch's encoding (`BatchEncoder.written`)."""

    __slots__ = ("written",)
    written: bytes  # type: ignore[misc]  # an instance's own value of BatchEvent's class default

    def __init__(self, event: BatchEvent, wire: bytes) -> None:
        self.data = event.data
        self.time = event.time
        self.samplerate = event.samplerate
        self.written = wire


class _BodyWriter:
    """Events written one after another into a buffer framed as one batch body: each
    event's bytes from `starts` to `ends`, then a separator (JSON's comma).

    A writer given a zstd `chunker` compresses as it goes: `compress_written` hands what the
    buffer holds to it, and `starts` and `ends` count from the body's beginning. The batch
    then never holds its raw body whole, nor zstd's room for compressing it at once: two
    buffers the size of the batch, made and freed for each one, which glibc keeps mapped
    (its threshold for returning memory rises to the largest block freed).
    """

    def __init__(
        self, encoding: Encoding, chunker: zstandard.ZstdCompressionChunker | None = None
    ) -> None:
        self.json = encoding is Encoding.JSON
        # msgpack's array header goes first, its count filled in at the end: the 32-bit form
        # is valid for any count.
        self.buffer = bytearray(b"[" if self.json else b"\xdd\x00\x00\x00\x00")
        self.starts: list[int] = []
        self.ends: list[int] = []
        self._chunker = chunker
        self._compressed: list[bytes] = []
        self.offset = 0
        """How many of the body's bytes were compressed and left the buffer."""

    def compress_written(self) -> int:
        """Compress the buffer's bytes and empty it; the new `offset`."""
        if self._chunker is not None:
            self._compressed += self._chunker.compress(self.buffer)
            self.offset += len(self.buffer)
            del self.buffer[:]
        return self.offset

    def event_written(self, start: int) -> None:
        """The event written from `start` to the end of the buffer is complete."""
        self.starts.append(start)
        self.ends.append(len(self.buffer))
        if self.json:
            self.buffer += b","

    def finish(self) -> EncodedEvents:
        if self.json:
            if self.starts:
                self.buffer[-1] = ord("]")  # the last separator closes the array
            else:
                self.buffer += b"]"
        else:
            self.buffer[1:5] = len(self.starts).to_bytes(4, "big")
        if self._chunker is None:
            return EncodedEvents(self.buffer, self.starts, self.ends)
        self.compress_written()
        self._compressed += self._chunker.finish()  # type: ignore[no-untyped-call]  # stubs
        encoded = EncodedEvents(b"", self.starts, self.ends)
        encoded.raw_size = self.offset
        whole = Body(range(len(self.starts)), b"".join(self._compressed), self.offset)
        encoded.set_aside(whole, _unzstd)
        return encoded


def _stringify(value: Any) -> str:
    """msgspec's hook for values nested inside lists and dicts that it cannot encode."""
    return str(value)


class _ZstdPerThread(threading.local):
    compressor: zstandard.ZstdCompressor | None = None


def _unzstd(content: bytes) -> bytes:
    # A frame written as a stream does not say its size, which `decompress` needs.
    return zstandard.ZstdDecompressor().decompressobj().decompress(content)


_STREAM_CHUNK: Final = 32 * 1024
"""Raw bytes a streaming writer gathers before compressing them: well below glibc's 128-KiB
threshold for a block of its own, and many events at once."""


class BatchEncoder:
    """Turns events into size-limited, compressed request bodies. Safe to share across threads.

    `protected_fields` are the fields an exporter keeps longest when an event is over the size
    limit (its ids and names); everything else is dropped largest first.
    """

    def __init__(
        self,
        encoding: Encoding = Encoding.JSON,
        compression: Compression = Compression.ZSTD,
        *,
        max_body_bytes: int = MAX_BODY_BYTES,
        max_event_bytes: int = MAX_EVENT_BYTES,
        protected_fields: Collection[str] = (),
    ) -> None:
        if max_event_bytes + 8 > max_body_bytes:
            raise ValueError("max_body_bytes must leave room for at least one full event")
        self.encoding = encoding
        self.compression = compression
        self._raw_budget = max_body_bytes - (
            0 if compression is Compression.NONE else _COMPRESSION_HEADROOM
        )
        json = msgspec.json.Encoder(enc_hook=_stringify)
        encoder = (
            json if encoding is Encoding.JSON else msgspec.msgpack.Encoder(enc_hook=_stringify)
        )
        self._encode: Callable[[Any], bytes] = encoder.encode
        self._encode_into: Callable[[Any, bytearray, int], None] = encoder.encode_into
        # A batch's events are fitted in its encoding; a single event's body is always JSON.
        self._fit = EventFit(
            encoder.encode,
            json_encoded=encoding is Encoding.JSON,
            budget=max_event_bytes,
            protected=frozenset(protected_fields),
        )
        self._single_fit = replace(self._fit, encode=json.encode, json_encoded=True)
        self._zstd = _ZstdPerThread()
        self.headers: Mapping[str, str] = {"Content-Type": encoding.content_type} | (
            {} if compression is Compression.NONE else {"Content-Encoding": compression.value}
        )

    def encode_events(
        self, events: Iterable[BatchEvent], tally: LimitTally, *, whole: bool = False
    ) -> EncodedEvents:
        """Each event's bytes, after Honeycomb's limits were applied to it, in one buffer;
        for `whole`, with the body of them all made as `compress_whole` makes it (in zstd,
        while they are written: see `_BodyWriter`)."""
        chunker = self._chunker() if whole else None
        writer = _BodyWriter(self.encoding, chunker)
        buffer, starts, ends = writer.buffer, writer.starts, writer.ends
        separator = b"," if writer.json else b""
        encode_into = self._encode_into
        offset = 0
        for event in events:
            if chunker is not None and len(buffer) >= _STREAM_CHUNK:
                offset = writer.compress_written()
            start = len(buffer)
            if event.written is not None:
                buffer += event.written
                starts.append(offset + start)
                ends.append(offset + len(buffer))
                buffer += separator
                continue
            # The usual event, inline: `_limits` found it within the limits (when a mapping
            # built it, else now), and one this short once encoded cannot break the one limit
            # left, a string's.
            written = False
            try:
                if event.within_limits or data_within_limits(event.data):
                    time = event.time
                    encode_into(
                        {"data": event.data, "time": time}
                        if time is not None and event.samplerate is None
                        else wire_item(event.data, event),
                        buffer,
                        -1,
                    )
                    written = len(buffer) - start <= SMALL_EVENT_BYTES
            except Exception:  # a lone surrogate, a mapping whose methods raise: the careful way
                written = False
            if not written:
                del buffer[start:]
                buffer += self._fit.limited(event, tally)[1]
            starts.append(offset + start)
            ends.append(offset + len(buffer))
            buffer += separator
        encoded = writer.finish()
        one_body = len(encoded) and encoded.raw_size <= self._raw_budget
        if encoded.whole is not None and not one_body:
            # Streamed, yet not one body: kept raw, as `compress_whole` would leave it.
            encoded = EncodedEvents(encoded.buffer, starts, ends)
        if whole:
            self.compress_whole(encoded)
        return encoded

    def written(self, event: BatchEvent) -> tuple[BatchEvent, int] | None:
        """`event` written now, in this encoder's encoding, and its size in bytes; None for an
        event that does not meet every limit as it is (the batch's encoding fits it later).

        The buffered sender writes an event as it is queued: its size is what the queue bound
        counts, and the batch copies its bytes rather than writing it a second time.
        """
        data = event.data
        try:
            if not (event.within_limits or data_within_limits(data)):
                return None
            wire = self._encode(
                {"data": data, "time": event.time}
                if event.samplerate is None and event.time is not None
                else wire_item(data, event)
            )
        except Exception:  # a lone surrogate, a mapping whose methods raise: the careful way
            return None
        if len(wire) > SMALL_EVENT_BYTES:
            return None
        return _WrittenEvent(event, wire), len(wire)

    def _chunker(self) -> zstandard.ZstdCompressionChunker | None:
        """A zstd stream for a JSON batch body, which can be written as it goes; msgpack's
        count comes first, once known."""
        if self.compression is not Compression.ZSTD or self.encoding is not Encoding.JSON:
            return None
        return self._zstd_compressor().chunker(chunk_size=_STREAM_CHUNK)

    def encode_single(self, data: Mapping[str, Any], tally: LimitTally) -> Body:
        """The body of ``POST /1/events/<dataset>``: one JSON object, compressed."""
        _, raw = self._single_fit.fitted(sanitize_fields(data, tally), lambda kept: kept, tally)
        return Body((0,), self.compress(raw), len(raw))

    def compress_whole(self, encoded: EncodedEvents) -> Body | None:
        """The body of all of `encoded`'s events when they fit in one, made once: the
        exporters make it where the events were just written, while their bytes are still in
        the CPU's caches, and not in the thread that sends them. Once it is made, the raw
        buffer is set aside (a bytearray msgspec grew holds up to twice its bytes)."""
        if encoded.whole is None and len(encoded) and encoded.raw_size <= self._raw_budget:
            # Every event in order, and they fit in one body: the buffer is that body already.
            raw = encoded.buffer
            whole = Body(range(len(encoded)), self.compress(raw), len(raw))
            encoded.set_aside(whole, self._decompress)
        return encoded.whole

    def _zstd_compressor(self) -> zstandard.ZstdCompressor:
        compressor = self._zstd.compressor
        if compressor is None:
            compressor = self._zstd.compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
        return compressor

    def _decompress(self, content: bytes) -> bytes:
        if self.compression is Compression.ZSTD:
            return _unzstd(content)
        if self.compression is Compression.GZIP:
            return gzip.decompress(content)
        return content

    def bodies(self, encoded: EncodedEvents, positions: Sequence[int]) -> Iterator[Body]:
        """Bodies holding the events at `positions`, each within the body limit, in order."""
        if tuple(positions) == tuple(range(len(encoded))):
            whole = self.compress_whole(encoded)
            if whole is not None:
                yield whole
                return
        start = 0
        size = 0
        for index, position in enumerate(positions):
            event_size = encoded.size(position) + 1  # with its separator or header share
            if index > start and size + event_size + 5 > self._raw_budget:
                yield self._body(encoded, positions[start:index])
                start, size = index, 0
            size += event_size
        if start < len(positions):
            yield self._body(encoded, positions[start:])

    def _body(self, encoded: EncodedEvents, positions: Sequence[int]) -> Body:
        raw = self.frame([encoded[position] for position in positions])
        return Body(tuple(positions), self.compress(raw), len(raw))

    def encoded(self, parts: Sequence[bytes], encoding: str) -> EncodedEvents:
        """Events encoded earlier (in `encoding`, a spooled batch's), ready for `bodies`;
        re-encoded when this encoder writes the other encoding."""
        if encoding != self.encoding.value:
            decode = (
                msgspec.json.decode if encoding == Encoding.JSON.value else msgspec.msgpack.decode
            )
            parts = [self._encode(decode(part)) for part in parts]
        writer = _BodyWriter(self.encoding)
        for part in parts:
            start = len(writer.buffer)
            writer.buffer += part
            writer.event_written(start)
        return writer.finish()

    def subset(self, encoded: EncodedEvents, positions: Sequence[int]) -> EncodedEvents:
        """The events of `encoded` at `positions` as a batch of their own, its body made:
        `encoded` itself for all of them in order (a request that failed as a whole)."""
        if list(positions) == list(range(len(encoded))):
            return encoded
        events = self.encoded(encoded.at(positions), self.encoding.value)
        self.compress_whole(events)
        return events

    def frame(self, parts: Sequence[bytes]) -> bytes:
        """Encoded events (in this encoder's encoding) joined into one array."""
        return bytes(self.encoded(parts, self.encoding.value).buffer)

    def compress(self, raw: bytes | bytearray) -> bytes:
        if self.compression is Compression.ZSTD:
            compressor = self._zstd_compressor()
            # A copy of its own size: zstd's result keeps the room it reserved, the size of
            # the input, for as long as the body waits or travels.
            return memoryview(compressor.compress(raw)).tobytes()
        if self.compression is Compression.GZIP:
            return gzip.compress(raw, compresslevel=GZIP_LEVEL, mtime=0)
        return bytes(raw)
