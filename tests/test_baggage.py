"""Baggage onto spans (setup.md, "Baggage on spans"): the entries of the baggage current when a
span starts become its attributes, and so fields of its event, as the distro's
BaggageSpanProcessor makes them; on by default in configure_opentelemetry() and under
opentelemetry-instrument, off with baggage=False or HONEYCOMB_BAGGAGE_TO_SPANS=false."""

from __future__ import annotations

import pytest
from opentelemetry import baggage, context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from honeycomb_events import HoneycombEventsExporter
from honeycomb_events.otel import BaggageSpanProcessor, DeterministicSampler
from honeycomb_events.otel._baggage import baggage_to_spans, copy_baggage_in

from .test_zero_code import run_script

SERVICE = "bagged"


def test_baggage_of_a_parent_context_is_on_the_child_spans(environment, receiver):
    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE}))
    provider.add_span_processor(BaggageSpanProcessor())
    provider.add_span_processor(BatchSpanProcessor(HoneycombEventsExporter()))
    tracer = provider.get_tracer("checkout")
    with_baggage = baggage.set_baggage("customer.id", "c-42")
    with_baggage = baggage.set_baggage("plan", "gold", context=with_baggage)
    token = context.attach(with_baggage)
    try:
        # The span's own attribute wins over the baggage's entry of the same name.
        with (
            tracer.start_as_current_span("root"),
            tracer.start_as_current_span("child"),
            tracer.start_as_current_span("own", attributes={"plan": "own"}) as own,
        ):
            own.add_event("card charged")
    finally:
        context.detach(token)
    with tracer.start_as_current_span("after"):
        pass
    provider.shutdown()

    events = {event.data["name"]: event.data for event in receiver.events(SERVICE)}
    for name in ("root", "child"):
        assert events[name]["customer.id"] == "c-42"
        assert events[name]["plan"] == "gold"
    assert events["own"]["plan"] == "own"
    assert events["own"]["customer.id"] == "c-42"
    assert "customer.id" not in events["after"]
    assert "customer.id" not in events["card charged"]  # a span event has its own attributes


def test_baggage_never_replaces_the_samplers_sample_rate():
    memory = InMemorySpanExporter()
    provider = TracerProvider(sampler=DeterministicSampler(1))
    provider.add_span_processor(BaggageSpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(memory))
    token = context.attach(baggage.set_baggage("SampleRate", "1000"))
    try:
        with provider.get_tracer("t").start_as_current_span("root"):
            pass
    finally:
        context.detach(token)
    [span] = memory.get_finished_spans()
    assert span.attributes["SampleRate"] == 1


def test_the_processor_is_added_to_a_provider_once():
    provider = TracerProvider()
    copy_baggage_in(provider)
    copy_baggage_in(provider)
    processors = provider._active_span_processor._span_processors
    assert [type(processor) for processor in processors] == [BaggageSpanProcessor]


@pytest.mark.parametrize(
    ("argument", "value", "copied"),
    [
        (None, None, True),
        (None, "false", False),
        (None, " OFF ", False),
        (None, "true", True),
        (True, "false", True),
        (False, None, False),
    ],
)
def test_the_argument_then_the_variable_then_on(monkeypatch, argument, value, copied):
    if value is None:
        monkeypatch.delenv("HONEYCOMB_BAGGAGE_TO_SPANS", raising=False)
    else:
        monkeypatch.setenv("HONEYCOMB_BAGGAGE_TO_SPANS", value)
    assert baggage_to_spans(argument) is copied


def test_a_bad_value_keeps_the_default_and_says_so_once(monkeypatch, capsys):
    monkeypatch.delenv("HONEYCOMB_QUIET", raising=False)
    monkeypatch.setenv("HONEYCOMB_BAGGAGE_TO_SPANS", "maybe")
    assert baggage_to_spans() is True
    assert baggage_to_spans() is True
    [line] = capsys.readouterr().err.splitlines()
    assert "HONEYCOMB_BAGGAGE_TO_SPANS='maybe' is neither true nor false" in line


SCRIPT = """
from opentelemetry import baggage, context, trace

context.attach(baggage.set_baggage("customer.id", "c-42"))
tracer = trace.get_tracer("app")
with tracer.start_as_current_span("root"), tracer.start_as_current_span("child"):
    pass
"""

SETUP = """
from honeycomb_events import configure_opentelemetry

configure_opentelemetry(metrics_enabled=False, logs=False{arguments})
"""


def run(receiver, script: str, environ: dict[str, str], *, agent: bool) -> dict[str, dict]:
    """The spans `script` sent, by name."""
    run_script(receiver, script, environ, agent=agent, service=SERVICE)
    return {event.data["name"]: event.data for event in receiver.events(SERVICE)}


@pytest.mark.parametrize(
    ("variable", "copied"), [(None, True), ("false", False)], ids=["default", "off"]
)
def test_opentelemetry_instrument_copies_baggage_unless_switched_off(receiver, variable, copied):
    environ = {"OTEL_TRACES_EXPORTER": "honeycomb", "OTEL_METRICS_EXPORTER": "none"}
    environ |= {"OTEL_LOGS_EXPORTER": "none"}
    if variable is not None:
        environ["HONEYCOMB_BAGGAGE_TO_SPANS"] = variable
    spans = run(receiver, SCRIPT, environ, agent=True)
    assert sorted(spans) == ["child", "root"]
    for span in spans.values():
        assert ("customer.id" in span) is copied


@pytest.mark.parametrize(
    ("arguments", "variable", "copied"),
    [("", None, True), (", baggage=False", None, False), ("", "false", False)],
    ids=["default", "argument-off", "variable-off"],
)
def test_configure_opentelemetry_copies_baggage_unless_switched_off(
    receiver, arguments, variable, copied
):
    environ = {} if variable is None else {"HONEYCOMB_BAGGAGE_TO_SPANS": variable}
    spans = run(receiver, SETUP.format(arguments=arguments) + SCRIPT, environ, agent=False)
    assert sorted(spans) == ["child", "root"]
    for span in spans.values():
        assert ("customer.id" in span) is copied
