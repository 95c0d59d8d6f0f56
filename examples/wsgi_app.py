"""A small WSGI web app, instrumented with no Honeycomb code at all.

Run it under the OpenTelemetry agent, configured only by environment variables:

    export OTEL_SERVICE_NAME=shop
    export OTEL_TRACES_EXPORTER=honeycomb OTEL_METRICS_EXPORTER=honeycomb
    export OTEL_LOGS_EXPORTER=honeycomb
    export OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED=true
    export HONEYCOMB_API_KEY=... HONEYCOMB_API_ENDPOINT=http://127.0.0.1:8086  # or Honeycomb
    opentelemetry-instrument python examples/wsgi_app.py --requests 5

It serves on 127.0.0.1 (a free port, printed first), answers `--requests` requests to
/hello, logs one line per request, and exits; the SDK flushes every signal at exit.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware

log = logging.getLogger("shop")


def application(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "/")
    if path == "/hello":
        log.info("said hello to %s", environ.get("REMOTE_ADDR"))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hello\n"]
    log.warning("no page at %s", path)
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found\n"]


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description="a small instrumented WSGI app")
    parser.add_argument("--requests", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    with make_server(
        "127.0.0.1", 0, OpenTelemetryMiddleware(application), handler_class=QuietHandler
    ) as server:
        print(server.server_port, flush=True)
        for _ in range(args.requests):
            server.handle_request()


if __name__ == "__main__":
    main()
