"""Deterministic sampling, as Honeycomb's OpenTelemetry distro samples: 1 trace in N kept,
decided from the trace id alone, and every kept span carries ``SampleRate`` = N, so its events
carry ``samplerate: N`` and Honeycomb counts each one N times (sampling.md, "Deterministic
sampling").

The rate comes from `configure_opentelemetry(sample_rate=)`, else ``HONEYCOMB_SAMPLE_RATE``,
else, with ``OTEL_TRACES_SAMPLER=honeycomb``, ``OTEL_TRACES_SAMPLER_ARG``. A value that is not
a whole number keeps every trace and one line on stderr says so.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Final

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

from honeycomb_events._errors import ConfigurationError
from honeycomb_events._model import MAX_SAMPLERATE
from honeycomb_events._notices import notice

ENV_SAMPLE_RATE: Final = "HONEYCOMB_SAMPLE_RATE"
SAMPLER_NAME: Final = "honeycomb"
"""The value of ``OTEL_TRACES_SAMPLER`` that chooses `DeterministicSampler`."""

SAMPLE_RATE_ATTRIBUTE: Final = "SampleRate"
_OTEL_SAMPLER: Final = "OTEL_TRACES_SAMPLER"
_OTEL_SAMPLER_ARG: Final = "OTEL_TRACES_SAMPLER_ARG"
_LOW_64_BITS: Final = TraceIdRatioBased.TRACE_ID_LIMIT


class DeterministicSampler(Sampler):
    """Keeps 1 trace in `rate`, decided from the trace id alone, as the distro's
    ``DeterministicSampler``: 0 or less keeps none, 1 keeps all, N keeps what the SDK's
    ``TraceIdRatioBased(1/N)`` keeps. Each kept span gets the attribute ``SampleRate`` = `rate`.

    The parent's decision is not consulted: the trace id decides, so every span of a trace
    in every service sampling at the same rate gets the same decision, and a service at rate
    4N keeps a subset of the traces a service at rate N keeps.
    """

    def __init__(self, rate: int) -> None:
        if type(rate) is not int:
            raise ConfigurationError(
                f"the sample rate must be a whole number N, to keep 1 trace in N, not {rate!r}"
            )
        self.rate = rate
        self._sampler: Sampler
        if rate <= 0:
            self._sampler, self._bound = ALWAYS_OFF, 0
        elif rate == 1:
            self._sampler, self._bound = ALWAYS_ON, _LOW_64_BITS + 1
        else:
            ratio = TraceIdRatioBased(1.0 / rate)
            self._sampler, self._bound = ratio, ratio.bound

    def should_sample(  # noqa: PLR0917 (the SDK calls it with positional arguments)
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        # A new mapping: the distro's update() changed the attributes the caller passed. Made
        # only for a span kept: the delegate drops a dropped span's attributes (`keeps` is its
        # own test, on the same bound).
        if self.keeps(trace_id):
            attributes = {**(attributes or {}), SAMPLE_RATE_ATTRIBUTE: self.rate}
        return self._sampler.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def keeps(self, trace_id: int) -> bool:
        """Whether this sampler keeps the spans of the trace `trace_id`."""
        return trace_id & _LOW_64_BITS < self._bound

    def get_description(self) -> str:
        return "HNYDeterministicSampler"


def honeycomb_sampler(arg: str | None = None) -> DeterministicSampler:
    """What ``OTEL_TRACES_SAMPLER=honeycomb`` builds under ``opentelemetry-instrument``.

    The SDK passes ``OTEL_TRACES_SAMPLER_ARG`` as `arg`. The rate is ``HONEYCOMB_SAMPLE_RATE``
    when it is set (then a different `arg` is said to be unused), else `arg`: a whole number N,
    to keep 1 trace in N (not a probability). Without either, every trace is kept.
    """
    env = os.environ
    given = (arg or "").strip()
    own = (env.get(ENV_SAMPLE_RATE) or "").strip()
    if own:
        if given and given != own:
            notice(
                f"sample rate {_OTEL_SAMPLER_ARG} unused",
                f"{_OTEL_SAMPLER_ARG}={given[:40]!r} is not used: {ENV_SAMPLE_RATE}={own[:40]!r} "
                "gives the sample rate of OTEL_TRACES_SAMPLER=honeycomb",
            )
        return DeterministicSampler(_rate_of_text(own, ENV_SAMPLE_RATE))
    if given:
        return DeterministicSampler(_rate_of_text(given, _OTEL_SAMPLER_ARG))
    notice(
        "sample rate missing",
        f"{_OTEL_SAMPLER}=honeycomb has no sample rate: every trace is kept; set "
        f"{ENV_SAMPLE_RATE}=N to keep 1 trace in N",
    )
    return DeterministicSampler(1)


def configured_sampler(sample_rate: int | None = None) -> DeterministicSampler | None:
    """The sampler `configure_opentelemetry` gives its tracer provider: from `sample_rate`,
    else ``HONEYCOMB_SAMPLE_RATE``, else ``OTEL_TRACES_SAMPLER=honeycomb``; None when none of
    them asks for one (the SDK's own, from ``OTEL_TRACES_SAMPLER``, applies)."""
    if sample_rate is not None:
        if type(sample_rate) is not int:
            raise ConfigurationError(
                "the sample_rate argument must be a whole number N, to keep 1 trace in N, "
                f"not {sample_rate!r}"
            )
        return DeterministicSampler(_rate_in_range(sample_rate, "the sample_rate argument"))
    env = os.environ
    own = (env.get(ENV_SAMPLE_RATE) or "").strip()
    chosen = (env.get(_OTEL_SAMPLER) or "").strip()
    if own:
        if chosen and chosen.lower() != SAMPLER_NAME:
            notice(
                f"sample rate {_OTEL_SAMPLER} unused",
                f"{_OTEL_SAMPLER}={chosen[:40]!r} is not used: configure_opentelemetry() "
                f"samples as {ENV_SAMPLE_RATE}={own[:40]!r} says",
            )
        return DeterministicSampler(_rate_of_text(own, ENV_SAMPLE_RATE))
    if chosen.lower() == SAMPLER_NAME:
        return honeycomb_sampler(env.get(_OTEL_SAMPLER_ARG))
    return None


def agents_sampler() -> DeterministicSampler | None:
    """The `DeterministicSampler` of the global tracer provider, if it has one: the SDK's
    configurator sets that provider before it builds any exporter. If it has another while
    ``HONEYCOMB_SAMPLE_RATE`` is set, one line on stderr says the variable is not used."""
    sampler = getattr(trace.get_tracer_provider(), "sampler", None)
    if isinstance(sampler, DeterministicSampler):
        return sampler
    if (os.environ.get(ENV_SAMPLE_RATE) or "").strip():
        notice(
            "sample rate unused",
            f"{ENV_SAMPLE_RATE} is not used: opentelemetry-instrument samples as "
            f"{_OTEL_SAMPLER} says; set {_OTEL_SAMPLER}=honeycomb to keep 1 trace in "
            f"{ENV_SAMPLE_RATE}",
        )
    return None


def _rate_of_text(text: str, source: str) -> int:
    try:
        rate = int(text)
    except ValueError:
        notice(
            f"sample rate {source}",
            f"{source}={text[:40]!r} is not a whole number: every trace is kept (sample "
            f"rate 1); set {source} to N to keep 1 trace in N",
        )
        return 1
    return _rate_in_range(rate, source)


def _rate_in_range(rate: int, source: str) -> int:
    if rate < 0:
        notice(
            f"sample rate {source}",
            f"{source} is {rate}, below 0: no trace is kept, as with 0; set it to 0 to keep "
            "none, or to N (1 or more) to keep 1 trace in N",
        )
    elif rate > MAX_SAMPLERATE:
        notice(
            f"sample rate {source}",
            f"{source} is {rate}, more than Honeycomb's largest sample rate: "
            f"{MAX_SAMPLERATE} is used",
        )
        return MAX_SAMPLERATE
    return rate
