"""Every example runs, as a user would run it, against a local receiver."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_send_events_example_delivers_everything(receiver):
    environ = os.environ | {
        "HONEYCOMB_API_ENDPOINT": receiver.url,
        "HONEYCOMB_API_KEY": "example-key",
    }
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / "send_events.py")],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "batch: 10/10 accepted" in completed.stdout
    assert "buffered: 100 accepted, 0 failed" in completed.stdout
    assert "async batch: 5/5 accepted" in completed.stdout
    assert len(receiver.events("example")) == 1 + 10 + 100 + 5


def test_demo_command_runs_against_its_own_receiver():
    completed = subprocess.run(
        [sys.executable, "-m", "honeycomb_events", "demo", "--events", "50"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "batch: 50/50 accepted (after one retried 503)" in completed.stdout
    assert "dataset 'demo-logs': 50 events stored" in completed.stdout
