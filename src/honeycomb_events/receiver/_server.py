"""`Receiver`: the receiver application served by uvicorn on a background thread."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
from collections.abc import Collection
from typing import Final

import uvicorn

from ._app import (
    IncompleteResponseFilter,
    ReceiverStats,
    RequestLog,
    create_app,
)
from ._faults import FaultPlan
from ._guard import normalize_hosts
from ._store import EventStore
from ._stored_event import StoredEvent

DEFAULT_HOST: Final = "127.0.0.1"
START_TIMEOUT: Final = 10.0
STOP_TIMEOUT: Final = 5.0


class _CancelledAtStopFilter(logging.Filter):
    """Hides the traceback of each request that `stop` cut off: cutting them is the point of
    the graceful timeout, and uvicorn's own line still says how many were cancelled."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and record.exc_info[0] is asyncio.CancelledError)


_incomplete_filter: Final = IncompleteResponseFilter()
_cancelled_filter: Final = _CancelledAtStopFilter()


class _Server(uvicorn.Server):
    """uvicorn's server, woken at once by `request_exit` instead of polling every 0.1 s.

    Each test starts and stops a receiver, so a stop that waits for the next poll would add up.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self.ready.set()
        counter = 0
        while not await self.on_tick(counter):
            # on_tick refreshes the Date header when counter is a multiple of 10 (one second
            # of uvicorn's 0.1 s ticks); this loop wakes once a second at most.
            counter = (counter + 10) % 864_000
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 1.0)

    def request_exit(self, *, force: bool = False) -> None:
        """Ask the server to shut down; safe from any thread, at any time.

        `force` drops every connection instead of giving requests in flight about a second.
        """
        if force:
            self.force_exit = True
        self.should_exit = True
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                loop.call_soon_threadsafe(self._wake_up)

    def _wake_up(self) -> None:
        if self.force_exit:
            # uvicorn's forced exit only stops waiting for requests; since Python 3.12.1 its
            # listening server still waits for each connection to close, which a stalled
            # client never does.
            for connection in list(self.server_state.connections):
                connection.transport.close()
        if self._wake is not None:
            self._wake.set()


def _bind(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        if os.name != "nt":
            # The port must be reusable straight after this receiver stops, by another one
            # given it (connections it accepted inherit the option); on Windows this option
            # would instead let two servers share the port.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except BaseException:
        sock.close()
        raise
    return sock


class Receiver:
    """A local Honeycomb Events API, served over HTTP on a background thread.

    Use it as a context manager (or call `start` and `stop`). Once started, `url` is the
    endpoint to give a client, such as ``http://127.0.0.1:54321``; port 0 (the default) picks a
    free port. `db_path=None` keeps events in memory; a path keeps them in that SQLite file
    across receivers and lets other processes read them. `api_keys=None` accepts any non-blank
    key, and with keys the control endpoints need one too. `store` serves an existing store
    instead (the receiver then does not close it). Requests with a ``Host`` other than
    localhost, an IP address, `host` or one of `allowed_hosts` are refused, as are cross-site
    requests to the pages and control endpoints (see `create_app`).

    `store`, `faults`, `requests` and `stats` are live views of what the receiver holds and
    will do; they may be used from the test's thread while the receiver runs.
    """

    def __init__(
        self,
        db_path: str | os.PathLike[str] | None = None,
        api_keys: Collection[str] | None = None,
        host: str = DEFAULT_HOST,
        port: int = 0,
        *,
        store: EventStore | None = None,
        allowed_hosts: Collection[str] = (),
    ) -> None:
        if store is not None and db_path is not None:
            raise ValueError("pass db_path or store, not both")
        hosts = normalize_hosts(allowed_hosts)
        with contextlib.suppress(ValueError):  # a host that is not a name fails to bind instead
            hosts |= normalize_hosts([host])
        self.host = host
        self._requested_port = port
        self._owns_store = store is None
        self.store = EventStore(db_path) if store is None else store
        self.faults = FaultPlan()
        self.requests = RequestLog()
        self.stats = ReceiverStats()
        self.app = create_app(
            self.store,
            api_keys=api_keys,
            faults=self.faults,
            requests=self.requests,
            stats=self.stats,
            allowed_hosts=hosts,
        )
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._error: BaseException | None = None
        self._port: int | None = None
        self._stopped = False

    def start(self, timeout: float = START_TIMEOUT) -> Receiver:
        """Bind, start serving, and return once requests are answered. Returns `self`."""
        if self._thread is not None or self._stopped:
            raise RuntimeError("a Receiver can be started only once")
        logging.getLogger("uvicorn.error").addFilter(_incomplete_filter)
        logging.getLogger("uvicorn.error").addFilter(_cancelled_filter)
        sock = _bind(self.host, self._requested_port)
        self._socket = sock
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            # uvicorn's default logging config would reconfigure the process's logging;
            # without it, its records go to the root logger like any library's.
            log_config=None,
            access_log=False,
            lifespan="off",
            http="h11",
            ws="none",
            loop="asyncio",
            timeout_graceful_shutdown=1,
        )
        server = _Server(config)
        self._server = server
        self._thread = threading.Thread(
            target=self._serve,
            args=(server, sock),
            name=f"honeycomb-receiver-{self._port}",
            daemon=True,
        )
        self._thread.start()
        server.ready.wait(timeout)
        if not server.started:
            self.stop()
            raise RuntimeError(f"the receiver did not start within {timeout} s") from self._error
        return self

    def _serve(self, server: _Server, sock: socket.socket) -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:
            # Kept for start() to chain onto its error: a thread's exception is otherwise lost.
            self._error = exc
        finally:
            server.ready.set()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop serving and close the store if this receiver opened it. Idempotent.

        Requests still in flight get up to about a second to finish, then are cut off (at once
        after `request_stop(force=True)`); a stalled client or a delay fault does not hold it.
        """
        self._stopped = True
        server, thread = self._server, self._thread
        if server is not None and thread is not None:
            server.request_exit()
            thread.join(timeout)
            if thread.is_alive():
                server.request_exit(force=True)
                thread.join(timeout)
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self._owns_store:
            self.store.close()

    def request_stop(self, *, force: bool = False) -> None:
        """Ask the server to stop, without waiting; safe from any thread or a signal handler.

        `force` cuts requests in flight at once instead of giving them about a second. `stop`
        still has to be called to wait for the server and close the store.
        """
        if self._server is not None:
            self._server.request_exit(force=force)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stopped

    @property
    def port(self) -> int:
        """The port the receiver listens on (known once started)."""
        if self._port is None:
            raise RuntimeError("the receiver has not been started")
        return self._port

    @property
    def url(self) -> str:
        """The base URL of the receiver, without a trailing slash."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def events(
        self,
        dataset: str,
        *,
        since_ns: int | None = None,
        until_ns: int | None = None,
        limit: int | None = None,
    ) -> list[StoredEvent]:
        """The events stored in `dataset`; see `EventStore.events`."""
        return self.store.events(dataset, since_ns=since_ns, until_ns=until_ns, limit=limit)

    def datasets(self) -> list[str]:
        """Display names of the datasets holding events."""
        return self.store.datasets()

    def reset(self) -> None:
        """Forget every event, pending fault, logged request and count, as if freshly started.

        Cheaper than a new receiver, for test suites that share one.
        """
        self.faults.clear()
        self.store.clear()
        self.requests.clear()
        self.stats.reset()

    def __enter__(self) -> Receiver:
        if self._thread is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._port is not None else "not started"
        return f"Receiver({where}, store={self.store!r})"
