"""``serve``: the local receiver in the foreground, until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Final, NoReturn

from honeycomb_events._errors import ConfigurationError
from honeycomb_events._version import __version__

from ._common import EXIT_OK, EXIT_USAGE, Commands, add_command, fail, require_receiver

DEFAULT_PORT: Final = 8086
ENV_RECEIVER_API_KEYS: Final = "HONEYCOMB_RECEIVER_API_KEYS"
ENV_RECEIVER_ALLOWED_HOSTS: Final = "HONEYCOMB_RECEIVER_ALLOWED_HOSTS"

_STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)


@dataclasses.dataclass(frozen=True)
class _ServeKeys:
    """The keys `serve` accepts (None: any non-blank key), and where they came from."""

    keys: frozenset[str] | None
    sources: tuple[str, ...] = ()


def _comma_list(text: str) -> list[str]:
    return [kept for part in text.split(",") if (kept := part.strip())]


def _key_file_lines(text: str) -> list[str]:
    """The keys of a keys file: one a line; blank lines and what follows ``#`` are skipped."""
    return [kept for line in text.splitlines() if (kept := line.split("#", 1)[0].strip())]


def _serve_keys(args: argparse.Namespace, environ: Mapping[str, str]) -> _ServeKeys:
    """Keys from ENV_RECEIVER_API_KEYS and --api-keys-file, never from the command line.

    Raises ConfigurationError for an unreadable file, or a setting that holds no key.
    """
    keys: set[str] = set()
    sources = []
    value = environ.get(ENV_RECEIVER_API_KEYS, "").strip()
    if value:
        keys.update(_comma_list(value))
        sources.append(ENV_RECEIVER_API_KEYS)
    if args.api_keys_file is not None:
        try:
            with open(args.api_keys_file, encoding="utf-8") as file:
                keys.update(_key_file_lines(file.read()))
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigurationError(f"cannot read --api-keys-file: {error}") from None
        sources.append(args.api_keys_file)
    if sources and not keys:
        raise ConfigurationError(f"no API key in {' or '.join(sources)}")
    return _ServeKeys(frozenset(keys) if keys else None, tuple(sources))


def _refuse_key_argument(value: str) -> NoReturn:
    # Only the option is named: the value is the key, which must not be echoed.
    raise argparse.ArgumentTypeError(
        "keys are not taken on the command line, where `ps` shows them: set "
        f"{ENV_RECEIVER_API_KEYS}=KEY1,KEY2 or use --api-keys-file PATH"
    )


def serve(args: argparse.Namespace) -> int:
    """Run the Events-API-compatible receiver in the foreground until SIGINT or SIGTERM."""
    require_receiver()
    from honeycomb_events.receiver import Receiver

    try:
        served = _serve_keys(args, os.environ)
    except ConfigurationError as error:
        return fail(sys.stderr, "serve", str(error), EXIT_USAGE)
    hosts = [*args.allow_host, *_comma_list(os.environ.get(ENV_RECEIVER_ALLOWED_HOSTS, ""))]
    try:
        receiver = Receiver(args.db, served.keys, args.host, args.port, allowed_hosts=hosts)
    except ValueError as error:
        message = f"--allow-host or {ENV_RECEIVER_ALLOWED_HOSTS}: {error}"
        return fail(sys.stderr, "serve", message, EXIT_USAGE)
    stopping = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        # The first signal stops gracefully (requests in flight get about a second); a
        # second one, while that runs, cuts them off at once.
        receiver.request_stop(force=stopping.is_set())
        stopping.set()

    previous = {number: signal.signal(number, on_signal) for number in _STOP_SIGNALS}
    try:
        try:
            receiver.start()
        except OSError as error:
            return fail(sys.stderr, "serve", f"cannot listen on {args.host}:{args.port}: {error}")
        _print_serving(args, receiver.url, served, hosts)
        # A timed wait, because on Windows an untimed one is not interrupted by Ctrl-C.
        while not stopping.wait(1.0):
            pass
    finally:
        receiver.stop()
        for number, handler in previous.items():
            signal.signal(number, handler)
    print("receiver stopped")
    return EXIT_OK


def _print_serving(
    args: argparse.Namespace, url: str, served: _ServeKeys, hosts: Sequence[str]
) -> None:
    where = args.db or "memory (lost on exit; use --db to keep events)"
    print(f"honeycomb-events {__version__} receiver on {url}")
    print(f"storing events in {where}")
    print(f"send with: HONEYCOMB_API_ENDPOINT={url}")
    if served.keys is None:
        print("accepting any non-blank API key")
    else:
        count = len(served.keys)
        print(f"accepting {count} API key{'s' * (count != 1)} from {' and '.join(served.sources)}")
    if hosts:
        print(f"also answering to host names: {', '.join(hosts)}")
    sys.stdout.flush()


def add_parser(commands: Commands) -> None:
    parser = add_command(
        commands,
        "serve",
        serve,
        "run a local Events API receiver",
        "Run a local Events API receiver until SIGINT or SIGTERM. API keys come "
        f"from {ENV_RECEIVER_API_KEYS} (comma-separated) or --api-keys-file, never from the "
        "command line; without any, every non-blank key is accepted.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="default: %(default)s")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="default: %(default)s; 0: a free port"
    )
    parser.add_argument("--db", help="SQLite file to keep events in (default: memory)")
    parser.add_argument(
        "--api-keys-file",
        metavar="PATH",
        help="accept only the keys in this file, one a line (# starts a comment)",
    )
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests addressed to this host name, such as a docker-compose "
        f"service name (repeatable; also {ENV_RECEIVER_ALLOWED_HOSTS}, comma-separated); "
        "localhost and IP addresses always are",
    )
    # Defined only to refuse it: argparse would otherwise take --api-key as an abbreviation
    # of --api-keys-file and echo the key in its "no such file" error.
    parser.add_argument(
        "--api-key", type=_refuse_key_argument, default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
