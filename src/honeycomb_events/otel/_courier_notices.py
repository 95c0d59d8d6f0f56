"""What the courier tells a user, worded: each line names what happened, where, and the
setting to change (reliability.md, "Every failure is visible"). Pure functions to text."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from honeycomb_events._config import Settings
from honeycomb_events._model import EventResult
from honeycomb_events._spool import Spool
from honeycomb_events._transport import NO_RESPONSE


def outage(failure: EventResult, settings: Settings, spool: Path | None) -> tuple[str, str]:
    """The kind and line for a backend found failing. The kind holds the endpoint, not the
    exporter: every exporter sending there meets the same failure, said once for them all."""
    text = (failure.error or "").lower()
    hint = ""
    if failure.status == NO_RESPONSE and ("ssl" in text or "certificate" in text):
        kind, what = "tls", "the TLS connection to Honeycomb failed"
        hint = "a proxy with its own certificate authority needs HONEYCOMB_CA_BUNDLE"
    elif failure.status == NO_RESPONSE:
        kind, what = "unreachable", "Honeycomb did not answer"
        hint = f"check {settings.endpoint_source}"
    elif failure.status == 429:
        kind, what = "throttled", "Honeycomb is throttling this process (429)"
    else:
        kind, what = f"status {failure.status}", f"Honeycomb answered {failure.status}"
    keeping = (
        f"batches wait in the spool ({spool})"
        if spool is not None
        else "batches wait in memory (set HONEYCOMB_SPOOL_DIR to keep them on disk)"
    )
    address = _address(settings.endpoint)
    return (
        f"{kind} {address}",
        f"{what} at {address}{f' ({hint})' if hint else ''}: "
        f"{failure.error or failure.status}; until it answers, {keeping}",
    )


def unanswered_at_exit(settings: Settings) -> tuple[str, str]:
    """The kind and line for a request still waiting for its answer when the exit came."""
    address = _address(settings.endpoint)
    return (
        f"unanswered {address}",
        f"Honeycomb at {address} had not answered when the process exited (check "
        f"{settings.endpoint_source})",
    )


def backlog_full(what: str, counter: str) -> str:
    return (
        f"{what}: events were dropped ({counter}): Honeycomb could not take them and the "
        "backlog in memory is full; set HONEYCOMB_SPOOL_DIR to keep them on disk"
    )


def at_exit(what: str, lost: int, spooled_now: int, spool: Spool | None) -> str | None:
    """The exit's one line: what was lost, and what this exporter left in the spool (None
    when there is nothing to say)."""
    parts = []
    if lost:
        parts.append(
            f"{_counted(lost, 'event')} lost (set HONEYCOMB_SPOOL_DIR to keep such events on disk)"
        )
    if spool is not None and spool.counts.events_spooled:
        waiting = spool.pending()
        if waiting:
            parts.append(
                f"{_counted(spool.counts.events_spooled, 'event')} spooled ({spooled_now} just "
                f"now): the spool in {spool.directory} holds {_counted(waiting, 'batch')} for "
                "the next process with this HONEYCOMB_SPOOL_DIR to send"
            )
    return f"{what}: at shutdown, {'; '.join(parts)}" if parts else None


def _counted(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}{'es' if noun[-1] == 'h' else 's'}"


def _address(endpoint: str) -> str:
    """Where requests go, the port spelled out: a typo in it is what a user must spot."""
    parts = urlsplit(endpoint)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{parts.hostname}:{port}"
