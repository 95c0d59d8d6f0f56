"""A WSGI app that configures its own logging at import, as most do, in each gunicorn worker
(after `post_fork`, since gunicorn loads the app in the worker)."""

import logging
import os

from opentelemetry import metrics, trace

logging.basicConfig(level=logging.INFO, format="app-format %(levelname)s %(message)s")

_log = logging.getLogger("gunicorn_app")
_tracer = trace.get_tracer("gunicorn_app")
_requests = metrics.get_meter("gunicorn_app").create_counter("app.requests")


def app(environ, start_response):
    pid = os.getpid()
    with _tracer.start_as_current_span("handle", attributes={"worker.pid": pid}):
        _log.info("handled a request in %d", pid)
        _requests.add(1, {"worker.pid": pid})
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(pid).encode()]
