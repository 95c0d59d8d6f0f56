import gzip

import msgspec
import pytest
import zstandard

from honeycomb_events import BatchEncoder, BatchEvent, Compression, ConfigurationError, Encoding
from honeycomb_events._limits import LimitTally


def decompress(body: bytes, compression: Compression) -> bytes:
    if compression is Compression.ZSTD:
        return decompressed(body)
    if compression is Compression.GZIP:
        return gzip.decompress(body)
    return body


def decode(raw: bytes, encoding: Encoding):
    return (msgspec.json.decode if encoding is Encoding.JSON else msgspec.msgpack.decode)(raw)


@pytest.mark.parametrize("encoding", list(Encoding))
@pytest.mark.parametrize("compression", list(Compression))
def test_bodies_round_trip_in_every_encoding_and_compression(encoding, compression):
    encoder = BatchEncoder(encoding, compression)
    events = [
        BatchEvent({"i": i, "name": f"event {i}"}, time=1_714_564_800 + i, samplerate=i + 1)
        for i in range(40)
    ]
    encoded = encoder.encode_events(events, LimitTally())
    [body] = encoder.bodies(encoded, range(40))
    assert tuple(body.positions) == tuple(range(40))
    decoded = decode(decompress(body.content, compression), encoding)
    assert len(decoded) == 40
    assert decoded[3] == {
        "data": {"i": 3, "name": "event 3"},
        "time": "2024-05-01T12:00:03.000000000Z",
        "samplerate": 4,
    }


@pytest.mark.parametrize("count", [0, 1, 15, 16, 65_535, 65_536])
def test_msgpack_array_headers_frame_any_count(count):
    encoder = BatchEncoder(Encoding.MSGPACK, Compression.NONE)
    part = msgspec.msgpack.encode({"data": {}})
    assert msgspec.msgpack.decode(encoder.frame([part] * count)) == [{"data": {}}] * count


def test_events_without_time_or_samplerate_leave_them_out():
    encoder = BatchEncoder(Encoding.JSON, Compression.NONE)
    [encoded] = encoder.encode_events([BatchEvent({"a": 1})], LimitTally())
    assert msgspec.json.decode(encoded) == {"data": {"a": 1}}


def test_headers_name_the_encoding_and_compression():
    assert BatchEncoder(Encoding.JSON, Compression.ZSTD).headers == {
        "Content-Type": "application/json",
        "Content-Encoding": "zstd",
    }
    assert BatchEncoder(Encoding.MSGPACK, Compression.NONE).headers == {
        "Content-Type": "application/msgpack"
    }


@pytest.mark.parametrize("compression", list(Compression))
def test_batches_are_split_below_five_megabytes_and_never_truncated(compression):
    encoder = BatchEncoder(Encoding.JSON, compression)
    events = [
        BatchEvent({"blob": f"{i:05d}" + "x" * 60_000, "more": "y" * 60_000}) for i in range(200)
    ]
    encoded = encoder.encode_events(events, LimitTally())
    bodies = list(encoder.bodies(encoded, range(200)))
    assert len(bodies) == 5  # 200 events of ~120 kB: 24 MB in five bodies
    seen = []
    for body in bodies:
        assert len(body.content) <= 5_000_000
        assert body.raw_size <= 5_000_000
        raw = decompress(body.content, compression)
        assert len(raw) == body.raw_size
        seen.extend(event["data"]["blob"][:5] for event in msgspec.json.decode(raw))
    assert seen == [f"{i:05d}" for i in range(200)]


def test_bodies_can_carry_any_subset_for_a_retry():
    encoder = BatchEncoder(Encoding.JSON, Compression.NONE)
    encoded = encoder.encode_events([BatchEvent({"i": i}) for i in range(10)], LimitTally())
    [body] = encoder.bodies(encoded, [2, 7])
    assert body.positions == (2, 7)
    assert [e["data"]["i"] for e in msgspec.json.decode(body.content)] == [2, 7]


def test_incompressible_full_bodies_stay_under_the_limit_once_compressed():
    import os

    encoder = BatchEncoder(Encoding.JSON, Compression.GZIP)
    events = [BatchEvent({"noise": os.urandom(45_000).hex()}) for _ in range(120)]
    for body in encoder.bodies(encoder.encode_events(events, LimitTally()), range(120)):
        assert len(body.content) <= 5_000_000


def test_single_event_body_is_a_compressed_json_object():
    encoder = BatchEncoder(Encoding.MSGPACK, Compression.GZIP)
    body = encoder.encode_single({"a": 1, "n": float("nan")}, LimitTally())
    assert msgspec.json.decode(gzip.decompress(body.content)) == {"a": 1, "n": "NaN"}


@pytest.mark.parametrize(
    ("kind", "value", "accepted"),
    [(Compression, "brotli", "zstd, gzip, none"), (Encoding, "xml", "json, msgpack")],
)
def test_unknown_choices_name_the_setting_and_the_accepted_values(kind, value, accepted):
    with pytest.raises(
        ConfigurationError, match=f"HONEYCOMB_X must be one of {accepted}, not '{value}'"
    ):
        kind.from_str(value, "HONEYCOMB_X")
    assert kind.from_str(" GZIP ".lower() if kind is Compression else "MsgPack", "x") in kind


def test_a_batch_holds_memory_for_its_bytes_only():
    # msgspec grows the buffer up to twice what it holds, and zstd's result keeps the room it
    # reserved (the input's size): a batch that waited or travelled kept both.
    import tracemalloc

    encoder = BatchEncoder(Encoding.JSON, Compression.ZSTD)
    events = [BatchEvent({"n": n, "text": "x" * 200 + str(n)}) for n in range(2000)]
    tracemalloc.start()
    try:
        encoded = encoder.encode_events(events, LimitTally())
        body = encoder.compress_whole(encoded)
        assert body is not None
        held = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(True, encoder_module_file())]
        )
        sizes = sorted(stat.size for stat in held.statistics("lineno"))
    finally:
        tracemalloc.stop()
    # Nothing large is held: the raw bytes are set aside, the compressed body (1/90 of them)
    # has the size of its bytes.
    assert max(sizes) < 100_000
    assert encoded.buffer == decompressed(body.content)  # made again when asked for
    assert len(encoded.buffer) == encoded.raw_size


def decompressed(content: bytes) -> bytes:
    # As a server reads a body: a frame written as a stream does not declare its size.
    return zstandard.ZstdDecompressor().decompressobj().decompress(content)


def encoder_module_file() -> str:
    import honeycomb_events._encode

    return honeycomb_events._encode.__file__


def test_a_whole_batch_is_compressed_as_it_is_written():
    # Never the raw body whole, nor zstd's room for compressing it at once: the two buffers
    # the size of the batch that glibc kept mapped after each batch (RSS, issue 17).
    import tracemalloc

    encoder = BatchEncoder(Encoding.JSON, Compression.ZSTD)
    events = [BatchEvent({"n": n, "text": "x" * 2000 + str(n)}) for n in range(1000)]
    encoder.encode_events(events[:10], LimitTally(), whole=True)  # the compressor made
    tracemalloc.start()
    try:
        encoded = encoder.encode_events(events, LimitTally(), whole=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert encoded.raw_size > 1_800_000
    assert peak < 400_000  # the chunk being written, positions, the compressed body
    assert encoded.whole is not None
    assert encoded.buffer == decompressed(encoded.whole.content)


@pytest.mark.parametrize("compression", list(Compression))
@pytest.mark.parametrize("encoding", list(Encoding))
def test_a_whole_batch_has_the_bytes_of_one_written_first(encoding, compression):
    # Over many chunks, events the careful way among them (a lone surrogate, one over the
    # event limit), and a batch too large for one body: the same events, positions, bodies.
    events = [
        BatchEvent({"n": n, "text": "x" * (n * 37 % 3000)}, time=1_714_564_800 + n)
        for n in range(300)
    ]
    events[40] = BatchEvent({"lone": "\ud800", "n": 40})
    events[77] = BatchEvent({f"huge{i}": "y" * 60_000 for i in range(20)})
    events += [BatchEvent({"n": n, "a": "z" * 60_000, "b": "w" * 60_000}) for n in range(50)]
    for batch, body_count in ((events[:300], 1), (events, 2)):
        plain_tally, whole_tally = LimitTally(), LimitTally()
        plain = BatchEncoder(encoding, compression).encode_events(batch, plain_tally)
        encoder = BatchEncoder(encoding, compression)
        whole = encoder.encode_events(batch, whole_tally, whole=True)
        assert whole.buffer == plain.buffer
        assert list(whole) == list(plain)
        assert whole.raw_size == plain.raw_size
        assert whole_tally == plain_tally
        bodies = list(encoder.bodies(whole, range(len(batch))))
        assert len(bodies) == body_count
        raw = b"".join(decompress(body.content, compression) for body in bodies)
        expected = b"".join(
            decompress(body.content, compression)
            for body in BatchEncoder(encoding, compression).bodies(plain, range(len(batch)))
        )
        assert raw == expected
