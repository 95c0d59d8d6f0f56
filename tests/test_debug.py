"""``DEBUG=true`` (otel/_debug.py): the resolved configuration once on stderr when the first
exporter is made (never the key), and every event as it is sent."""

from __future__ import annotations

import json

import pytest

from honeycomb_events import HoneycombEventsExporter, HoneycombLogExporter
from honeycomb_events.otel import _debug

from .conftest import API_KEY
from .test_delivery import finished_spans


@pytest.fixture(autouse=True)
def _not_said_yet(monkeypatch):
    monkeypatch.setattr(_debug, "_said", type(_debug._said)())


@pytest.mark.parametrize("variable", ["DEBUG", "HONEYCOMB_DEBUG"])
def test_the_configuration_is_said_once_without_the_key(environment, capfd, tmp_path, variable):
    environment.setenv(variable, "true")
    environment.setenv("HONEYCOMB_SPOOL_DIR", str(tmp_path))
    environment.setenv("HONEYCOMB_LOGS_DATASET", "app-logs")
    environment.setenv("HONEYCOMB_SAMPLE_RATE", "4")
    first = HoneycombEventsExporter()
    second = HoneycombLogExporter()
    said = capfd.readouterr().err
    assert said.count("honeycomb-events debug: configuration") == 1
    assert API_KEY not in said
    assert API_KEY[:20] not in said
    lines = said.splitlines()
    traces = next(line for line in lines if line.startswith("  traces:"))
    assert "key from HONEYCOMB_API_KEY (environment key)" in traces
    assert "each resource's service.name" in traces
    assert "endpoint http://127.0.0.1:" in traces
    logs = next(line for line in lines if line.startswith("  logs:"))
    assert "else app-logs" in logs
    assert f"  spool: {tmp_path}" in said
    assert "  sampling: HONEYCOMB_SAMPLE_RATE=4" in said
    first.shutdown()
    second.shutdown()


def test_a_signal_that_cannot_be_configured_says_why(environment, capfd):
    environment.setenv("DEBUG", "1")
    environment.setenv("HONEYCOMB_METRICS_ENDPOINT", "no-scheme.example")
    exporter = HoneycombEventsExporter()
    said = capfd.readouterr().err
    assert "  metrics: not configured: " in said
    assert "HONEYCOMB_METRICS_ENDPOINT" in said
    exporter.shutdown()


def test_every_event_is_said_as_sent(environment, receiver, capfd):
    environment.setenv("DEBUG", "true")
    exporter = HoneycombEventsExporter()
    spans = finished_spans(3)
    exporter.export(spans)
    exporter.shutdown()
    prefix = "honeycomb-events debug: -> svc: "
    sent = [
        line.removeprefix(prefix)
        for line in capfd.readouterr().err.splitlines()
        if line.startswith(prefix)
    ]
    assert len(sent) == 3
    events = [json.loads(text) for text in sent]
    assert {event["data"]["trace.span_id"] for event in events} == {
        f"{span.context.span_id:016x}" for span in spans
    }
    stored = {event.data["trace.span_id"]: event.data for event in receiver.events("svc")}
    for event in events:
        assert stored[event["data"]["trace.span_id"]]["name"] == event["data"]["name"]


def test_nothing_is_said_without_debug(environment, receiver, capfd):
    exporter = HoneycombEventsExporter()
    exporter.export(finished_spans(2))
    exporter.shutdown()
    assert "honeycomb-events debug" not in capfd.readouterr().err
