"""docs/deployment.md's recipe, as the test runs it: the providers made in each worker."""

import logging
import os

from honeycomb_events import configure_opentelemetry

workers = 2
bind = f"unix:{os.environ['TEST_SOCKET']}"
graceful_timeout = 10


def post_fork(server, worker):
    configure_opentelemetry(
        log_level=logging.INFO,
        metric_export_interval_millis=int(os.environ.get("TEST_METRIC_INTERVAL", "60000")),
    )
