"""What every command shares: how it joins the parser, exit statuses, how failures are
reported, and how values are written where a terminal or a JSON reader will see them."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, Final, TextIO, TypeAlias

import msgspec

PROG: Final = "honeycomb-events"

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2

Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""What each command's ``add_parser`` adds its sub-parser to."""

json_encoder: Final = msgspec.json.Encoder(enc_hook=str)
json_decoder: Final = msgspec.json.Decoder()


def add_command(
    commands: Commands,
    name: str,
    run: Callable[[argparse.Namespace], int],
    help_text: str,
    description: str | None = None,
) -> argparse.ArgumentParser:
    """The sub-parser of command `name`, whose parsed arguments ``main`` hands to `run`;
    `help_text` is its line in the list of commands."""
    parser = commands.add_parser(name, help=help_text, description=description)
    parser.set_defaults(run=run)
    return parser


class CommandError(Exception):
    """A failure a command reports on stderr, with the exit status it ends with."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def error(err: TextIO, command: str, message: str) -> None:
    err.write(f"{PROG} {command}: {message}\n")
    err.flush()


def fail(err: TextIO, command: str, message: str, code: int = EXIT_FAILED) -> int:
    error(err, command, message)
    return code


def require_receiver() -> None:
    """Exit with the install hint when the ``receiver`` extra is missing."""
    try:
        from honeycomb_events import receiver  # noqa: F401
    except ImportError as missing:
        raise SystemExit(f"{PROG}: {missing}") from None


def value_text(value: Any) -> str:
    """A field's value as ``--where`` compares it and the table shows it: strings as they
    are, everything else as JSON (``true``, ``200``, ``1.5``, ``null``, ``[1,2]``)."""
    if isinstance(value, str):
        return value
    return json_encoder.encode(value).decode("utf-8")


def _escape_code(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_BIDI_CONTROLS: Final = (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
TERMINAL_ESCAPES: Final = {
    code: _escape_code(code) for code in (*range(0x20), 0x7F, *range(0x80, 0xA0), *_BIDI_CONTROLS)
} | {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}
"""What a table never prints raw: C0 and C1 controls and DEL, which a terminal would obey
(titles, cursor moves, clearing the screen), and the bidi overrides and isolates, which
reorder what is shown; each is written as a visible escape."""
JSON_ESCAPES: Final = {
    code: f"\\u{code:04x}" for code in (0x7F, *range(0x80, 0xA0), *_BIDI_CONTROLS)
}
"""What JSON may carry raw but a terminal would obey (JSON encoders escape C0 already);
only strings can hold them, where a \\u escape reads back as the same character."""
