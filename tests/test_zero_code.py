"""Zero-code setup: a real WSGI app under `opentelemetry-instrument`, configured only by
environment variables, sends spans, metrics and logs to the local receiver."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from honeycomb_events.receiver import Receiver

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "wsgi_app.py"


def clean_environ() -> dict[str, str]:
    """This process's environment without any OTel or Honeycomb setting of its own."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("OTEL_", "HONEYCOMB_"))
    }


def opentelemetry_instrument() -> str:
    # Next to this interpreter first: `python -m pip` under pyenv makes no shim on PATH.
    beside = Path(sys.executable).with_name("opentelemetry-instrument")
    instrument = str(beside) if beside.exists() else shutil.which("opentelemetry-instrument")
    if instrument is None:
        pytest.fail("opentelemetry-instrument is missing: pip install -e '.[test]'")
    return instrument


def run_script(
    receiver, script: str, environ: dict[str, str], *, agent: bool, service: str
) -> subprocess.CompletedProcess[str]:
    """Run `script` in a fresh interpreter (under opentelemetry-instrument if `agent`) that
    sends to `receiver` as `service`, with `environ` on top; it must succeed."""
    command = [sys.executable, "-c", script]
    if agent:
        command.insert(0, opentelemetry_instrument())
    completed = subprocess.run(
        command,
        env=clean_environ()
        | {
            "OTEL_SERVICE_NAME": service,
            "HONEYCOMB_API_KEY": f"{service}-key",
            "HONEYCOMB_API_ENDPOINT": receiver.url,
        }
        | environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed


def agent_environ(receiver) -> dict[str, str]:
    """What a process under opentelemetry-instrument needs to send all three signals, as
    "shop", to `receiver`: no setting of this process's own."""
    return clean_environ() | {
        "OTEL_SERVICE_NAME": "shop",
        "OTEL_TRACES_EXPORTER": "honeycomb",
        "OTEL_METRICS_EXPORTER": "honeycomb",
        "OTEL_LOGS_EXPORTER": "honeycomb",
        "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED": "true",
        "HONEYCOMB_API_KEY": "zero-code-key",
        "HONEYCOMB_API_ENDPOINT": receiver.url,
    }


def get_from_the_example_under_the_agent(environ: dict[str, str], paths: list[str]) -> list[int]:
    """Run examples/wsgi_app.py under opentelemetry-instrument with `environ`, GET each of
    `paths` from it, and wait for it to exit (having answered them), successfully: the
    statuses of the answers."""
    app = subprocess.Popen(
        [opentelemetry_instrument(), sys.executable, str(EXAMPLE), "--requests", str(len(paths))],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    statuses = []
    try:
        port = int(app.stdout.readline())
        for path in paths:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
                    answer.read()
                    statuses.append(answer.status)
            except urllib.error.HTTPError as refused:
                statuses.append(refused.code)
        _, errors = app.communicate(timeout=60)
    finally:
        app.kill()
    assert app.returncode == 0, errors
    return statuses


def test_opentelemetry_instrument_sends_all_three_signals(receiver):
    paths = ["/hello", "/hello", "/hello", "/missing"]
    assert get_from_the_example_under_the_agent(agent_environ(receiver), paths) == [
        200,
        200,
        200,
        404,
    ]

    spans = [e for e in receiver.events("shop") if e.data.get("meta.signal_type") == "trace"]
    assert len(spans) == 4
    assert {span.data["span.kind"] for span in spans} == {"server"}
    # Old or new HTTP semantic conventions, whichever the instrumentation writes.
    statuses = [
        span.data.get("http.response.status_code", span.data.get("http.status_code"))
        for span in spans
    ]
    assert sorted(statuses) == [200, 200, 200, 404]
    assert all(span.data["library.name"] == "opentelemetry.instrumentation.wsgi" for span in spans)

    logs = [e for e in receiver.events("shop") if e.data.get("meta.signal_type") == "log"]
    hellos = [log for log in logs if str(log.data.get("body", "")).startswith("said hello")]
    assert len(hellos) == 3
    span_ids = {span.data["trace.span_id"] for span in spans}
    assert all(log.data["trace.parent_id"] in span_ids for log in hellos)  # on their spans
    assert not [log for log in logs if log.data.get("logger.name", "").startswith("httpx")]

    metrics = receiver.events("unknown_metrics")
    assert metrics
    counts = [
        value
        for event in metrics
        for name, value in event.data.items()
        if name.startswith("http.server") and name.endswith(".count")
    ]
    assert sum(counts) == 4


SETUP_SCRIPT = """
import logging
from opentelemetry import metrics, trace
from honeycomb_events import configure_opentelemetry

first = configure_opentelemetry(log_level=logging.INFO)
assert configure_opentelemetry(service_name="ignored") is first
logging.getLogger().setLevel(logging.INFO)
with trace.get_tracer("app").start_as_current_span("work"):
    logging.getLogger("app").info("inside work")
metrics.get_meter("app").create_counter("jobs").add(2)
"""


def test_configure_opentelemetry_sets_up_all_three_signals_once(receiver):
    environ = clean_environ() | {
        "OTEL_SERVICE_NAME": "worker",
        "HONEYCOMB_API_KEY": "setup-key",
        "HONEYCOMB_API_ENDPOINT": receiver.url,
    }
    completed = subprocess.run(
        [sys.executable, "-c", SETUP_SCRIPT],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    [span] = [e for e in receiver.events("worker") if e.data["meta.signal_type"] == "trace"]
    [log] = [e for e in receiver.events("worker") if e.data["meta.signal_type"] == "log"]
    assert log.data["body"] == "inside work"
    assert log.data["trace.parent_id"] == span.data["trace.span_id"]
    [metric] = receiver.events("unknown_metrics")
    assert metric.data["jobs"] == 2
    assert metric.data["service.name"] == "worker"


FIRST_RUN_APP = """
import logging, time
from opentelemetry import metrics, trace
with trace.get_tracer("app").start_as_current_span("work"):
    logging.getLogger("app").warning("working")
metrics.get_meter("app").create_counter("jobs").add(1)
print(time.time(), flush=True)
"""

_EXIT_LOST = (
    "honeycomb-events: {exporter}: at shutdown, 1 event lost (set HONEYCOMB_SPOOL_DIR to keep "
    "such events on disk)"
)


def first_run(setting: dict[str, str]) -> tuple[list[str], float]:
    """An app run as a new user would: all three signals under opentelemetry-instrument, the
    OTel logging bridge on (as our docs suggest), no logging configured. Its stderr lines,
    and how long its exit took after its last line."""
    environ = clean_environ() | setting
    environ |= {
        "OTEL_SERVICE_NAME": "shop",
        "OTEL_TRACES_EXPORTER": "honeycomb",
        "OTEL_METRICS_EXPORTER": "honeycomb",
        "OTEL_LOGS_EXPORTER": "honeycomb",
        "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED": "true",
    }
    completed = subprocess.run(
        [opentelemetry_instrument(), sys.executable, "-c", FIRST_RUN_APP],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    ended = time.time()
    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr
    return completed.stderr.splitlines(), ended - float(completed.stdout)


def test_a_wrong_key_is_said_once_on_stderr():
    with Receiver(api_keys=["the right key"]) as receiver:
        lines, _ = first_run(
            {"HONEYCOMB_API_KEY": "a-wrong-key", "HONEYCOMB_API_ENDPOINT": receiver.url}
        )
    assert lines == [
        "honeycomb-events: Honeycomb rejected the API key from HONEYCOMB_API_KEY (401: unknown "
        "API key - check your credentials); set HONEYCOMB_API_KEY to an ingest key of the "
        "environment you send to"
    ]


def test_a_port_typo_names_the_address_and_the_exit_does_not_wait(closed_port):
    endpoint = f"http://127.0.0.1:{closed_port}"
    lines, exit_took = first_run({"HONEYCOMB_API_KEY": "key", "HONEYCOMB_API_ENDPOINT": endpoint})
    assert lines[0] == (
        f"honeycomb-events: Honeycomb did not answer at {endpoint} (check "
        "HONEYCOMB_API_ENDPOINT): no response from Honeycomb: ConnectError: [Errno 111] "
        "Connection refused; until it answers, batches wait in memory (set HONEYCOMB_SPOOL_DIR "
        "to keep them on disk)"
    )
    assert sorted(lines[1:]) == sorted(
        _EXIT_LOST.format(exporter=exporter)
        for exporter in (
            "HoneycombEventsExporter",
            "HoneycombLogExporter",
            "HoneycombMetricExporter",
        )
    )
    assert exit_took < 2.0


def test_a_server_that_never_answers_costs_the_exit_under_2_seconds_for_all_signals():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)  # the kernel completes handshakes; nobody ever reads
        endpoint = f"http://127.0.0.1:{listener.getsockname()[1]}"
        lines, exit_took = first_run(
            {"HONEYCOMB_API_KEY": "key", "HONEYCOMB_API_ENDPOINT": endpoint}
        )
    assert exit_took < 2.0  # not one wait per signal
    assert sorted(lines) == sorted(
        [
            f"honeycomb-events: Honeycomb at {endpoint} had not answered when the process "
            "exited (check HONEYCOMB_API_ENDPOINT)",
            *(
                _EXIT_LOST.format(exporter=exporter)
                for exporter in (
                    "HoneycombEventsExporter",
                    "HoneycombLogExporter",
                    "HoneycombMetricExporter",
                )
            ),
        ]
    )


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        (
            {},
            "no Honeycomb API key: pass api_key=... or set HONEYCOMB_{SIGNAL}_APIKEY or "
            "HONEYCOMB_API_KEY (an ingest key from your Honeycomb environment's settings)",
        ),
        (
            {"HONEYCOMB_API_KEY": "key", "HONEYCOMB_API_ENDPOINT": "127.0.0.1:4318"},
            "HONEYCOMB_API_ENDPOINT must be a URL with its scheme, not '127.0.0.1:4318': did you "
            "mean 'http://127.0.0.1:4318'?",
        ),
    ],
    ids=["no key", "no scheme"],
)
def test_a_configuration_error_is_one_line_per_signal_and_the_app_runs(setting, says):
    lines, _ = first_run(setting)
    assert lines == [
        f"honeycomb-events: {what} are not sent to Honeycomb: {says.format(SIGNAL=signal)}"
        for what, signal in (("spans", "TRACES"), ("metrics", "METRICS"), ("logs", "LOGS"))
    ]


CONFIGURE_THEN_LOGGING = """
import logging, logging.config, sys
from honeycomb_events import configure_opentelemetry

configure_opentelemetry(log_level=logging.INFO, traces=False, metrics_enabled=False)
if sys.argv[1] == "basicConfig":
    logging.basicConfig(level=logging.INFO, format="console %(message)s", stream=sys.stdout)
else:
    logging.config.dictConfig({
        "version": 1,
        "formatters": {"plain": {"format": "console %(message)s"}},
        "handlers": {"console": {
            "class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "plain"
        }},
        "root": {"level": "INFO", "handlers": ["console"]},
    })
logging.getLogger("app").info("configured after us")
"""


@pytest.mark.parametrize("how", ["basicConfig", "dictConfig"])
def test_the_apps_logging_configuration_after_ours_works_and_keeps_our_handler(receiver, how):
    environ = clean_environ() | {
        "OTEL_SERVICE_NAME": "worker",
        "HONEYCOMB_API_KEY": "setup-key",
        "HONEYCOMB_API_ENDPOINT": receiver.url,
    }
    completed = subprocess.run(
        [sys.executable, "-c", CONFIGURE_THEN_LOGGING, how],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines() == ["console configured after us"]
    assert [e.data["body"] for e in receiver.events("worker")] == ["configured after us"]
