"""docs/deployment.md's gunicorn recipe, run: two workers, `configure_opentelemetry()` in
`post_fork`, an app that calls `logging.basicConfig(level=INFO)` itself. Spans, INFO logs and
metrics of both workers arrive, and the app's own logging works as without us."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .conftest import API_KEY
from .test_zero_code import clean_environ

SITE = Path(__file__).resolve().parent / "gunicorn_site"


def test_the_post_fork_recipe_sends_every_workers_spans_logs_and_metrics(receiver, tmp_path):
    pytest.importorskip(
        "gunicorn", reason="gunicorn is in the test extra: pip install -e '.[test]'"
    )
    socket_path = tmp_path / "gunicorn.sock"
    environ = clean_environ() | {
        "HONEYCOMB_API_KEY": API_KEY,
        "HONEYCOMB_API_ENDPOINT": receiver.url,
        "OTEL_SERVICE_NAME": "web",
        "TEST_SOCKET": str(socket_path),
        "TEST_METRIC_INTERVAL": "500",
        "PYTHONPATH": os.pathsep.join([str(SITE), os.environ.get("PYTHONPATH", "")]),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            str(SITE / "gunicorn_conf.py"),
            "gunicorn_app:app",
        ],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        workers = answering_workers(socket_path, wanted=2)
        time.sleep(1.5)  # a few metric intervals
    finally:
        server.send_signal(signal.SIGTERM)  # a graceful stop: each worker flushes at exit
        _, errors = server.communicate(timeout=30)
    assert server.returncode == 0, errors
    assert len(workers) == 2, errors

    events = [event.data for event in receiver.events("web")]
    spans = [e for e in events if e["meta.signal_type"] == "trace"]
    logs = [e for e in events if e["meta.signal_type"] == "log"]
    assert {span["worker.pid"] for span in spans} == workers
    handled = [log for log in logs if str(log["body"]).startswith("handled a request in")]
    assert {int(log["body"].rsplit(" ", 1)[1]) for log in handled} == workers
    assert {log["severity"] for log in handled} == {"info"}
    assert len(handled) == len(spans)
    counted = {
        metric["worker.pid"]: metric["app.requests"]
        for metric in (event.data for event in receiver.events("unknown_metrics"))
        if "app.requests" in metric
    }
    assert set(counted) == workers
    # The app's own basicConfig took effect in every worker: its format, at INFO.
    printed = [line for line in errors.splitlines() if line.startswith("app-format INFO handled")]
    assert len(printed) == len(handled)
    assert API_KEY not in errors


def answering_workers(socket_path: Path, wanted: int) -> set[int]:
    """Request until `wanted` workers have answered (each request may go to either); their
    process ids."""
    seen: set[int] = set()
    deadline = time.monotonic() + 30
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(socket_path))) as client:
        while len(seen) < wanted and time.monotonic() < deadline:
            try:
                answer = client.get("http://gunicorn/", headers={"Connection": "close"})
            except httpx.TransportError:  # not listening yet
                time.sleep(0.05)
                continue
            seen.add(int(answer.text))
    return seen
