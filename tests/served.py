"""A receiver in a child process, as `serve` runs it: its memory is its own to measure."""

from __future__ import annotations

import subprocess
import sys

_SERVE = (
    "import sys, time\n"
    "from honeycomb_events.receiver import Receiver\n"
    "receiver = Receiver(db_path=sys.argv[1] or None).start()\n"
    "print(receiver.url, flush=True)\n"
    "sys.stdin.read()\n"
)


class Served:
    """A receiver in a child process, and what its memory peaked at."""

    def __init__(self, db_path: str | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _SERVE, db_path or ""],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        assert self.url.startswith("http://127.0.0.1:")

    def peak_rss(self) -> int:
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        raise AssertionError("no VmHWM")

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(10)
