"""Presend: a user's hook and the operator's rules (`_rules`), run on each final event before
Honeycomb's limits and the encoding.

The hook receives the event's fields as a dict of its own (`EventFields`, with the event's
`time` and `samplerate` as attributes), may change them in place, and returns them (or other
fields, or a `BatchEvent`), or None to drop the event. Then the rules: a drop rule may drop the
event, a redaction rule replaces values. What the hook returns is checked against Honeycomb's
limits again (it loses the mark of an event the mappings built within them); a hook that raises
or returns anything else costs its own event only, which is dropped (it may be the hook that
scrubs a secret), counted and said once on stderr. The rules are the signals' (the exporters',
the logging handler's); the events client has its hook only. Nothing here runs unless a hook or
a rule is configured: `pipeline` then gives None, and the callers skip it with one test per
batch.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import astuple, dataclass
from typing import Any, Final, Protocol, TypeAlias

from ._config import ENV_DROP_EVENTS
from ._errors import ConfigurationError
from ._limits import mapped_event
from ._model import BatchEvent, EventResult, TimeInput, normalize_samplerate, normalize_time
from ._notices import notice
from ._rules import Rules, rules_from_environment
from ._transport_stats import PRESEND_COUNTERS

PresendHook: TypeAlias = Callable[["EventFields"], "Mapping[str, Any] | BatchEvent | None"]
"""A presend hook: the event's fields in, the fields to send (or a `BatchEvent`) or None out."""

# The results of the events a client's send drops before sending, as libhoney reports an
# event its sampling dropped: status 0, and a text that says why.
DROPPED_BY_HOOK: Final = EventResult(0, "event dropped by the presend hook")
DROPPED_BY_RULE: Final = EventResult(0, f"event dropped by {ENV_DROP_EVENTS}")
DROPPED_ON_ERROR: Final = EventResult(0, "event dropped: the presend hook failed on it")

_DROPPED: Final = (DROPPED_BY_HOOK, DROPPED_BY_RULE, DROPPED_ON_ERROR)


class EventFields(dict[str, Any]):
    """The fields of one event as a presend hook receives them: a dict the hook owns (a copy:
    changing it never changes a caller's mapping), plus the event's `time` (RFC3339 text, or
    None) and `samplerate` (an int, or None), which the hook may set (any time `BatchEvent`
    takes; a sample rate from 1 to 2,147,483,647)."""

    __slots__ = ("samplerate", "time")

    time: TimeInput | None
    samplerate: int | float | None


@dataclass(slots=True)
class PresendTally:
    """What the hook and the rules did to one batch; `stats` names these as
    `PRESEND_COUNTERS`, in order."""

    dropped_by_hook: int = 0
    dropped_on_error: int = 0
    dropped_by_rule: int = 0
    fields_redacted: int = 0

    def counts(self) -> dict[str, int]:
        return dict(zip(PRESEND_COUNTERS, astuple(self), strict=True))

    @property
    def dropped(self) -> int:
        return self.dropped_by_hook + self.dropped_on_error + self.dropped_by_rule


class Counts(Protocol):
    """Where a pipeline's counts go (`TransportStats`)."""

    def record(self, **counts: int) -> None: ...


class Presend:
    """A hook and rules, run on events one at a time. Safe to share across threads."""

    def __init__(
        self, hook: PresendHook | None, rules: Rules | None, counts: Counts, what: str
    ) -> None:
        self.hook = hook
        self.rules = rules
        self._counts = counts
        self._what = what

    def apply(self, event: BatchEvent, tally: PresendTally) -> BatchEvent | EventResult:
        """The event to send, or the result of one dropped (counted in `tally`)."""
        if self.hook is not None:
            hooked = self._hooked(self.hook, event)
            if isinstance(hooked, EventResult):
                if hooked is DROPPED_BY_HOOK:
                    tally.dropped_by_hook += 1
                else:
                    tally.dropped_on_error += 1
                return hooked
            event = hooked
        if self.rules is None:
            return event
        try:
            data, redacted = self.rules.apply(event.data)
        except Exception as error:  # a mapping whose items() raises: as a hook failing
            self._failed(error, "reading the fields for the rules raised")
            tally.dropped_on_error += 1
            return DROPPED_ON_ERROR
        if data is None:
            tally.dropped_by_rule += 1
            return DROPPED_BY_RULE
        if redacted:
            tally.fields_redacted += redacted
            # A value made "REDACTED" keeps an event within Honeycomb's limits.
            return mapped_event(
                dict(data), event.time, event.samplerate, within_limits=event.within_limits
            )
        return event

    def events(self, events: Iterable[BatchEvent]) -> Iterator[BatchEvent]:
        """The events to send, as they are consumed; the counts recorded at the end."""
        tally = PresendTally()
        apply = self.apply
        try:
            for event in events:
                outcome = apply(event, tally)
                if not isinstance(outcome, EventResult):
                    yield outcome
        finally:
            self.record(tally)

    def batch(self, events: list[BatchEvent]) -> tuple[list[BatchEvent], list[EventResult | None]]:
        """The events to send, and a result for each given event: that of a dropped one, None
        for one sent (`merged` fills those in). The counts are recorded."""
        tally = PresendTally()
        kept: list[BatchEvent] = []
        results: list[EventResult | None] = []
        for event in events:
            outcome = self.apply(event, tally)
            if isinstance(outcome, EventResult):
                results.append(outcome)
            else:
                kept.append(outcome)
                results.append(None)
        self.record(tally)
        return kept, results

    def record(self, tally: PresendTally) -> None:
        if tally.dropped or tally.fields_redacted:
            self._counts.record(**tally.counts())

    def _hooked(self, hook: PresendHook, event: BatchEvent) -> BatchEvent | EventResult:
        """The event the hook returns, unmarked (its limits are checked again); or the
        result of one it dropped or failed on."""
        try:
            fields = EventFields(event.data)
        except Exception as error:  # a mapping whose items() raises
            self._failed(error, "the fields of an event could not be read")
            return DROPPED_ON_ERROR
        fields.time = event.time
        fields.samplerate = event.samplerate
        try:
            returned = hook(fields)
        except Exception as error:
            self._failed(error, "the presend hook raised")
            return DROPPED_ON_ERROR
        if returned is None:
            return DROPPED_BY_HOOK
        return self._returned(returned, fields, event)

    def _returned(
        self, returned: object, fields: EventFields, event: BatchEvent
    ) -> BatchEvent | EventResult:
        """The event made of what the hook returned, given `fields` made of `event`."""
        if isinstance(returned, BatchEvent):
            return BatchEvent.trusted(returned.data, returned.time, returned.samplerate)
        if not isinstance(returned, Mapping):
            self._failed(
                None,
                f"the presend hook returned a {type(returned).__name__}, not the event's "
                "fields, a BatchEvent or None",
            )
            return DROPPED_ON_ERROR
        try:
            time = fields.time
            if time is not event.time and time is not None:
                time = normalize_time(time)
            rate = fields.samplerate
            if rate is not event.samplerate and rate is not None:
                rate = normalize_samplerate(rate)
        except (TypeError, ValueError, OverflowError) as error:
            self._failed(error, "the presend hook set a time or samplerate Honeycomb cannot take")
            return DROPPED_ON_ERROR
        return BatchEvent.trusted(returned, time, rate)

    def _failed(self, error: BaseException | None, what: str) -> None:
        """Say once per pipeline that an event was dropped for `what`. The exception's type and
        where it was raised only: its message may quote a field's value."""
        where = ""
        if error is not None:
            frames = traceback.extract_tb(error.__traceback__)
            place = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
            where = f" ({type(error).__name__}{place})"
        notice(
            f"presend {id(self)}",
            f"{self._what}: {what}{where}; the event was dropped, as is every event it fails "
            "on (counted in stats['events_dropped_presend_error'])",
        )


def pipeline(
    hook: PresendHook | None, counts: Counts, what: str, *, rules: bool = False
) -> Presend | None:
    """The hook, and with `rules` those of the environment (an exporter's, the logging
    handler's: the signals'), or None when there are neither. Raises `ConfigurationError` for
    a malformed rule, or a hook that cannot be called."""
    if hook is not None and not callable(hook):
        raise ConfigurationError(
            f"the presend argument must be a function of the event's fields, not a "
            f"{type(hook).__name__}"
        )
    found = rules_from_environment() if rules else None
    if hook is None and found is None:
        return None
    return Presend(hook, found, counts, what)


def merged(results: list[EventResult | None], sent: list[EventResult]) -> list[EventResult]:
    """The results of a batch: those of dropped events where they are, those of the events
    sent, in order, in the other places."""
    answers = iter(sent)
    return [next(answers) if result is None else result for result in results]


def is_dropped(result: EventResult) -> bool:
    """Whether `result` is that of an event dropped before sending."""
    return any(result is dropped for dropped in _DROPPED)
