"""Honeycomb's answers, read: the body within a bound, the error text of a failed request, each
event's result from a batch's per-event answer, and whether the key was rejected.

Every text a server sent back is cut short and has the key scrubbed from it before it reaches
a result or an error: a server, or a proxy, may echo the key.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx
import msgspec
import zstandard

from ._config import ApiKey
from ._errors import AuthenticationError
from ._model import ACCEPTED, EventResult

NO_RESPONSE: Final = 0
"""The `EventResult.status` of an event that got no HTTP answer."""

MAX_ANSWER_BYTES: Final = 16 * 1024 * 1024
"""The most an answer may hold, compressed or not. Honeycomb's answer to the largest body (a
`{"status":202}` for each of its events) is well under it; a larger one is not read."""
_TOO_LARGE_TEXT: Final = f"the answer is over {MAX_ANSWER_BYTES} bytes"
_MAX_ERROR_TEXT: Final = 300
# Texts Honeycomb answers with a 400 when the key itself is the problem (events-api.md).
_KEY_REJECTION_TEXTS: Final = ("unknown api key", "invalid key")


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer, its body read in full and decoded."""

    status: int
    content: bytes
    headers: Mapping[str, str]


class AnswerBody:
    """The body of one answer: held already when httpx made the answer in memory (as a
    test's `MockTransport` does), else read from the stream chunk by chunk, where more than
    `MAX_ANSWER_BYTES` is refused with `httpx.DecodingError` before it is held."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self._raw = bytearray()
        try:
            self._content: bytes | None = response.content
        except httpx.ResponseNotRead:  # the body is still a stream
            self._content = None

    @property
    def streamed(self) -> bool:
        """Whether the body is to be read from the stream, through `add`."""
        return self._content is None

    def add(self, chunk: bytes) -> None:
        self._raw += chunk
        if len(self._raw) > MAX_ANSWER_BYTES:
            raise httpx.DecodingError(_TOO_LARGE_TEXT)

    def answer(self) -> Answer:
        """The answer, a streamed body decompressed within the bound (`bounded_decoding`)."""
        response = self._response
        content = self._content
        if content is None:
            content = bounded_decoding(self._raw, response.headers.get("content-encoding"))
        return Answer(response.status_code, content, response.headers)


def bounded_decoding(raw: bytes | bytearray, encoding: str | None) -> bytes:
    """An answer's body, decompressed to at most `MAX_ANSWER_BYTES`: requests ask for no
    compression, but a proxy may compress anyway, and a small compressed body can expand to
    gigabytes. `httpx.DecodingError` for a body over the bound or one that does not decode."""
    name = (encoding or "identity").strip().lower()
    try:
        if name == "identity":
            return bytes(raw)
        if name in ("gzip", "x-gzip", "deflate"):
            window = zlib.MAX_WBITS | (16 if name != "deflate" else 0)
            decompressor = zlib.decompressobj(window)
            content = decompressor.decompress(bytes(raw), MAX_ANSWER_BYTES + 1)
        elif name == "zstd":
            # A stream, not `decompress()`: that allocates whatever size the frame claims.
            with zstandard.ZstdDecompressor().stream_reader(bytes(raw)) as reader:
                content = reader.read(MAX_ANSWER_BYTES + 1)
        else:
            raise httpx.DecodingError(f"an answer in an encoding not asked for: {name}")
    except (zlib.error, zstandard.ZstdError) as error:
        raise httpx.DecodingError(f"an answer that does not decode: {error}") from error
    if len(content) > MAX_ANSWER_BYTES:
        raise httpx.DecodingError(_TOO_LARGE_TEXT)
    return content


def no_answer(error: Exception) -> EventResult:
    """The result of a request that got no answer (a connection failed or reset, a timeout)."""
    return _failure("no response from Honeycomb", error)


def unreadable_answer(error: Exception) -> EventResult:
    """The result of a request whose answer came but could not be read (a corrupt gzip)."""
    return _failure("unreadable response from Honeycomb", error)


def _failure(what: str, error: Exception) -> EventResult:
    text = f"{what}: {type(error).__name__}: {error}"
    return EventResult(NO_RESPONSE, text[:_MAX_ERROR_TEXT])


def failed_request(status: int, content: bytes, key: ApiKey) -> EventResult:
    """The result of every event of a request answered with a status other than 2xx."""
    return EventResult(status, key.scrubbed(_error_text(status, content)))


def key_rejection(result: EventResult, key: ApiKey) -> AuthenticationError | None:
    """The error to raise when a failed request's `result` says the key itself was rejected
    (401, or 400 with Honeycomb's texts for a bad key); None otherwise."""
    error = result.error or ""
    if result.status != 401 and not (
        result.status == 400 and any(text in error.lower() for text in _KEY_REJECTION_TEXTS)
    ):
        return None
    return AuthenticationError(
        f"Honeycomb rejected the API key from {key.source} ({result.status}: {error}); "
        f"set {key.source} to an ingest key of the environment you send to",
        status=result.status,
        key_source=key.source,
    )


def per_event_results(
    status: int, content: bytes, count: int, key: ApiKey
) -> EventResult | list[EventResult]:
    """Each event's result from a 2xx answer to a batch of `count` events, in order; or one
    result, final, for all of them: accepted, or failed when the answer cannot be read."""
    if not content.strip():
        return EventResult(202)  # an empty 2xx answer: the whole batch was queued
    accepted = _all_accepted(count)
    if content == accepted or content.translate(None, b" \t\r\n") == accepted:
        return ACCEPTED  # the usual answer, known without decoding an object per event
    try:
        answers = msgspec.json.decode(content)
    except msgspec.DecodeError:
        answers = None
    if not isinstance(answers, list) or len(answers) != count:
        # The server answered but we cannot tell which events it kept: resending could
        # duplicate them, so they are reported as failed, not retried.
        return EventResult(NO_RESPONSE, f"unreadable per-event answer to a {status} response")
    results = []
    for answer in answers:
        result = _event_result(answer)
        if result.error:
            result = EventResult(result.status, key.scrubbed(result.error))
        results.append(result)
    return results


def _all_accepted(count: int) -> bytes:
    """Honeycomb's answer to a batch of `count` events that were all accepted, compact."""
    return b"[" + b",".join([b'{"status":202}'] * count) + b"]"


def _event_result(answer: Any) -> EventResult:
    if isinstance(answer, dict):
        status = answer.get("status")
        if isinstance(status, int) and not isinstance(status, bool):
            error = answer.get("error")
            return EventResult(status, str(error)[:_MAX_ERROR_TEXT] if error else None)
    return EventResult(NO_RESPONSE, f"unreadable per-event answer {answer!r:.80}")


def _error_text(status: int, content: bytes) -> str:
    """Honeycomb's error text from a failed response (`{"error": ...}` or plain text)."""
    try:
        decoded = msgspec.json.decode(content)
    except msgspec.DecodeError:
        decoded = None
    if isinstance(decoded, dict) and decoded.get("error"):
        return str(decoded["error"])[:_MAX_ERROR_TEXT]
    text = content.decode("utf-8", "replace").strip()
    if text:
        return text[:_MAX_ERROR_TEXT]
    return httpx.codes.get_reason_phrase(status) or f"HTTP {status}"
