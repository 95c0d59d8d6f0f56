"""Deterministic sampling (sampling.md, "Deterministic sampling"): 1 trace in N kept, decided
from the trace id as the distro's DeterministicSampler decides it (the SDK's
TraceIdRatioBased(1/N)), whole traces only, every event of a kept trace with samplerate N; the
rate from configure_opentelemetry, HONEYCOMB_SAMPLE_RATE, or OTEL_TRACES_SAMPLER=honeycomb under
opentelemetry-instrument; log records going with their traces."""

from __future__ import annotations

import importlib.metadata
import math
import os
import random
import re
import sys
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    InMemoryLogRecordExporter,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, TraceFlags

from honeycomb_events import HoneycombEventsExporter
from honeycomb_events.otel import DeterministicSampler, SampledLogExporter, map_spans
from honeycomb_events.otel._sampler import configured_sampler

from .test_zero_code import run_script

ROOT = Path(__file__).resolve().parents[1]
SERVICE = "sampled"
SAMPLER_GROUP = "opentelemetry_traces_sampler"


class SeededIds(IdGenerator):
    """The same trace and span ids on every run."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def generate_trace_id(self) -> int:
        return self._random.getrandbits(128) or 1

    def generate_span_id(self) -> int:
        return self._random.getrandbits(64) or 1


def send_traces(count: int, sampler: DeterministicSampler | None) -> list[int]:
    """`count` traces, each a root with a child that has a span event and a link; their
    trace ids."""
    provider = TracerProvider(
        resource=Resource.create({"service.name": SERVICE}),
        sampler=sampler,
        id_generator=SeededIds(18),
    )
    provider.add_span_processor(BatchSpanProcessor(HoneycombEventsExporter()))
    tracer = provider.get_tracer("checkout")
    trace_ids = []
    for _ in range(count):
        with tracer.start_as_current_span("root") as root:
            trace_ids.append(root.get_span_context().trace_id)
            elsewhere = SpanContext(trace_ids[0], 1, is_remote=True)
            with tracer.start_as_current_span("child", links=[Link(elsewhere)]) as child:
                child.add_event("card charged")
    provider.shutdown()
    return trace_ids


def sdk_keeps(trace_id: int, rate: int) -> bool:
    decision = TraceIdRatioBased(1 / rate).should_sample(None, trace_id, "any").decision
    return decision.is_sampled()


def test_a_quarter_of_whole_traces_is_kept_each_event_at_samplerate_4(environment, receiver):
    environment.setenv("HONEYCOMB_SAMPLE_RATE", "4")
    trace_ids = send_traces(1000, configured_sampler())

    events = receiver.events(SERVICE)
    by_trace: dict[str, list[str]] = {}
    for event in events:
        assert event.samplerate == 4
        assert "SampleRate" not in event.data
        kind = event.data.get("meta.annotation_type") or event.data["name"]
        by_trace.setdefault(event.data["trace.trace_id"], []).append(kind)
    kept = set(by_trace)
    # Whole traces: each kept trace has its root, its child, the child's span event and link.
    whole = ["child", "link", "root", "span_event"]
    assert all(sorted(kinds) == whole for kinds in by_trace.values())
    # About a quarter: within 5 standard deviations of the binomial's mean.
    assert abs(len(kept) - 250) <= 5 * math.sqrt(1000 * 0.25 * 0.75)
    # The traces the SDK's TraceIdRatioBased(1/4) keeps, and so the same on every run.
    assert kept == {f"{t:032x}" for t in trace_ids if sdk_keeps(t, 4)}


def test_rate_1_keeps_every_trace_and_sends_no_samplerate(environment, receiver):
    environment.setenv("HONEYCOMB_SAMPLE_RATE", "1")
    send_traces(100, configured_sampler())
    events = receiver.events(SERVICE)
    assert len(events) == 400
    assert all(event.samplerate == 1 and "SampleRate" not in event.data for event in events)
    # What the exporter sends: events without a rate, which the encoder writes without one.
    memory = InMemorySpanExporter()
    provider = TracerProvider(sampler=configured_sampler())
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("t").start_as_current_span("root") as root:
        root.add_event("step")
    [(_, mapped)] = map_spans(memory.get_finished_spans())
    assert [event.samplerate for event in mapped] == [None, None]


def test_rate_0_keeps_no_trace(environment, receiver):
    environment.setenv("HONEYCOMB_SAMPLE_RATE", "0")
    send_traces(100, configured_sampler())
    assert receiver.events(SERVICE) == []


def test_log_records_go_with_their_traces(environment, receiver):
    sampler = DeterministicSampler(4)
    tracer = TracerProvider(sampler=sampler, id_generator=SeededIds(7)).get_tracer("app")
    memory = InMemoryLogRecordExporter()
    exporter = SampledLogExporter(sampler)
    provider = LoggerProvider(
        resource=Resource.create({"service.name": SERVICE}), shutdown_on_exit=False
    )
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    logger = provider.get_logger("app")
    logger.emit(body="outside")
    trace_ids = []
    for _ in range(200):
        with tracer.start_as_current_span("root") as root:
            trace_ids.append(root.get_span_context().trace_id)
            logger.emit(body="inside", attributes={"sampleRate": 20, "user": "u"})
    provider.shutdown()

    kept = {f"{t:032x}" for t in trace_ids if sdk_keeps(t, 4)}
    logs = receiver.events(SERVICE)
    inside = [event for event in logs if event.data["body"] == "inside"]
    assert sorted(event.data["trace.trace_id"] for event in inside) == sorted(kept)
    # The trace's rate replaces the record's own, as a kept span's does.
    assert all(event.samplerate == 4 and "sampleRate" not in event.data for event in inside)
    assert all(event.data["user"] == "u" for event in inside)
    [outside] = [event for event in logs if event.data["body"] == "outside"]
    assert outside.samplerate == 1
    assert exporter.stats["logs_sampled_out"] == 200 - len(kept)
    # The records themselves are left as emitted: another exporter saw them unchanged.
    emitted = [item.log_record for item in memory.get_finished_logs()]
    assert all(dict(record.attributes or {}).get("sampleRate", 20) == 20 for record in emitted)
    assert not any("SampleRate" in (record.attributes or {}) for record in emitted)


def test_the_sample_rate_argument_wins_over_the_variable(environment):
    environment.setenv("HONEYCOMB_SAMPLE_RATE", "4")
    assert configured_sampler(10).rate == 10
    with pytest.raises(ValueError, match="sample_rate argument must be a whole number"):
        configured_sampler("10")  # type: ignore[arg-type]


def test_no_rate_anywhere_leaves_the_sdks_sampler(monkeypatch):
    for name in ("HONEYCOMB_SAMPLE_RATE", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG"):
        monkeypatch.delenv(name, raising=False)
    assert configured_sampler() is None


@pytest.mark.parametrize(
    ("value", "rate", "says"),
    [
        ("abc", 1, "HONEYCOMB_SAMPLE_RATE='abc' is not a whole number: every trace is kept"),
        ("2.5", 1, "HONEYCOMB_SAMPLE_RATE='2.5' is not a whole number: every trace is kept"),
        ("-3", -3, "HONEYCOMB_SAMPLE_RATE is -3, below 0: no trace is kept"),
        ("3000000000", 2_147_483_647, "more than Honeycomb's largest sample rate"),
    ],
)
def test_a_bad_rate_is_said_once_on_stderr_naming_the_variable(
    monkeypatch, capsys, value, rate, says
):
    monkeypatch.delenv("HONEYCOMB_QUIET", raising=False)
    monkeypatch.setenv("HONEYCOMB_SAMPLE_RATE", value)
    first, again = configured_sampler(), configured_sampler()
    assert first.rate == again.rate == rate
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert says in lines[0]
    if rate < 0:
        assert not first.keeps(1)
        assert not first.should_sample(None, 1, "root").decision.is_sampled()


def test_the_sampler_decides_as_the_distros_and_ignores_the_parent():
    sampler = DeterministicSampler(4)
    generator = SeededIds(4)
    trace_ids = [generator.generate_trace_id() for _ in range(2000)]
    for trace_id in trace_ids:
        assert sampler.keeps(trace_id) == sdk_keeps(trace_id, 4)
    kept = next(t for t in trace_ids if sdk_keeps(t, 4))
    dropped = next(t for t in trace_ids if not sdk_keeps(t, 4))
    for trace_id, flags in ((kept, TraceFlags.DEFAULT), (dropped, TraceFlags.SAMPLED)):
        # A remote parent's decision is not consulted: the trace id decides.
        parent = NonRecordingSpan(SpanContext(trace_id, 1, is_remote=True, trace_flags=flags))
        context = trace.set_span_in_context(parent)
        result = sampler.should_sample(context, trace_id, "child", attributes={"a": 1})
        assert result.decision.is_sampled() == (trace_id == kept)
    attributes = {"a": 1}
    result = sampler.should_sample(None, kept, "root", attributes=attributes)
    assert dict(result.attributes) == {"a": 1, "SampleRate": 4}
    assert attributes == {"a": 1}  # the caller's mapping is left alone
    assert DeterministicSampler(0).should_sample(None, kept, "root").decision.is_sampled() is False
    assert DeterministicSampler(1).should_sample(None, dropped, "r").attributes == {"SampleRate": 1}
    assert DeterministicSampler(4).get_description() == "HNYDeterministicSampler"


def declared_sampler_entry_point() -> str:
    """The ``opentelemetry_traces_sampler`` entry point pyproject.toml declares."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    found = re.search(
        r'^\[project\.entry-points\.opentelemetry_traces_sampler\]\nhoneycomb = "([^"]+)"$',
        text,
        re.MULTILINE,
    )
    assert found, "pyproject.toml declares no honeycomb sampler"
    return found.group(1)


def registered(directory: Path) -> Path:
    """A distribution in `directory` registering the declared sampler entry point, as
    ``pip install -e .`` would (the installed package may predate it)."""
    info = directory / "honeycomb_events_sampler_under_test-0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: honeycomb-events-sampler-under-test\nVersion: 0\n"
    )
    (info / "entry_points.txt").write_text(
        f"[{SAMPLER_GROUP}]\nhoneycomb = {declared_sampler_entry_point()}\n"
    )
    return directory


def test_otel_traces_sampler_honeycomb_loads_with_the_sdks_argument(tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(registered(tmp_path)))
    monkeypatch.delenv("HONEYCOMB_SAMPLE_RATE", raising=False)
    found = importlib.metadata.entry_points(group=SAMPLER_GROUP, name="honeycomb")
    assert {entry.value for entry in found} == {declared_sampler_entry_point()}
    factory = next(iter(found)).load()
    # As the SDK's _import_sampler calls it: OTEL_TRACES_SAMPLER_ARG, a string, or None.
    assert factory("8").rate == 8
    monkeypatch.setenv("HONEYCOMB_SAMPLE_RATE", "4")
    assert factory(None).rate == 4
    assert factory("0.25").rate == 4
    assert "OTEL_TRACES_SAMPLER_ARG='0.25' is not used" in capsys.readouterr().err
    monkeypatch.delenv("HONEYCOMB_SAMPLE_RATE")
    assert factory(None).rate == 1
    assert "has no sample rate: every trace is kept" in capsys.readouterr().err


AGENT_SCRIPT = """
import logging
from opentelemetry import trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    InMemoryLogRecordExporter,
    SimpleLogRecordProcessor,
)

logging.getLogger().setLevel(logging.INFO)
log = logging.getLogger("app")
log.info("outside any trace")
tracer = trace.get_tracer("app")
for _ in range(400):
    with tracer.start_as_current_span("root") as root:
        print(format(root.get_span_context().trace_id, "032x"))
        with tracer.start_as_current_span("child"):
            log.info("inside")
"""


def run_app(receiver, script: str, environ: dict[str, str], *, agent: bool) -> list[int]:
    """Run `script` (under opentelemetry-instrument if `agent`); the trace ids it printed."""
    completed = run_script(receiver, script, environ, agent=agent, service=SERVICE)
    return [int(line, 16) for line in completed.stdout.split()]


def assert_sampled_with_logs(receiver, trace_ids: list[int]) -> None:
    """Whole traces kept at rate 4, as the SDK decides; their logs with them, at rate 4."""
    expected = {f"{t:032x}" for t in trace_ids if sdk_keeps(t, 4)}
    events = receiver.events(SERVICE)
    spans = [e for e in events if e.data.get("meta.signal_type") == "trace"]
    logs = [e for e in events if e.data.get("meta.signal_type") == "log"]
    assert {e.data["trace.trace_id"] for e in spans if e.data["name"] == "root"} == expected
    assert {e.data["trace.trace_id"] for e in spans} == expected
    assert all(e.samplerate == 4 for e in spans)
    inside = [e for e in logs if e.data["body"] == "inside"]
    assert sorted(e.data["trace.trace_id"] for e in inside) == sorted(expected)
    assert all(e.samplerate == 4 and "SampleRate" not in e.data for e in inside)
    [outside] = [e for e in logs if e.data["body"] == "outside any trace"]
    assert outside.samplerate == 1


def test_opentelemetry_instrument_samples_with_otel_traces_sampler_honeycomb(receiver, tmp_path):
    environ = {
        "PYTHONPATH": os.pathsep.join([str(registered(tmp_path)), *sys.path]),
        "OTEL_TRACES_SAMPLER": "honeycomb",
        "HONEYCOMB_SAMPLE_RATE": "4",
        "OTEL_TRACES_EXPORTER": "honeycomb",
        "OTEL_LOGS_EXPORTER": "honeycomb",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED": "true",
    }
    trace_ids = run_app(receiver, AGENT_SCRIPT, environ, agent=True)
    assert len(trace_ids) == 400
    assert_sampled_with_logs(receiver, trace_ids)


SETUP_SCRIPT = (
    """
import logging
from honeycomb_events import configure_opentelemetry

configure_opentelemetry(log_level=logging.INFO, metrics_enabled=False, sample_rate=4)
"""
    + AGENT_SCRIPT
)


def test_configure_opentelemetry_samples_traces_and_their_logs(receiver):
    trace_ids = run_app(receiver, SETUP_SCRIPT, {"HONEYCOMB_SAMPLE_RATE": "10"}, agent=False)
    assert len(trace_ids) == 400
    assert_sampled_with_logs(receiver, trace_ids)
