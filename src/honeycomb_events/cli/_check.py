"""``check``: ask ``GET /1/auth`` whether the configured key is valid and may send events."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, TextIO

import httpx
import msgspec

from honeycomb_events._config import ENV_ENDPOINT, ApiKey, Settings
from honeycomb_events._errors import ConfigurationError
from honeycomb_events._http import USER_AGENT, tls_verification

from ._common import EXIT_OK, EXIT_USAGE, CommandError, Commands, add_command, fail, json_decoder
from ._keys import add_key_options, settings_from


def _printable(value: object) -> str:
    text = str(value)
    return "".join(c if c.isprintable() else "?" for c in text)[:200]


def _endpoint_source(args: argparse.Namespace) -> str:
    if args.endpoint:
        return "--endpoint"
    if os.environ.get(ENV_ENDPOINT, "").strip():
        return ENV_ENDPOINT
    return f"the default endpoint (set {ENV_ENDPOINT} for another)"


def _name_of(value: object) -> str | None:
    """The ``name`` (else ``slug``) of an /1/auth answer's ``team`` or ``environment``."""
    if not isinstance(value, dict):
        return None
    name = value.get("name") or value.get("slug")
    return str(name) if name else None


def _get_auth(args: argparse.Namespace, settings: Settings) -> httpx.Response:
    key = settings.api_key
    try:
        with httpx.Client(
            verify=tls_verification(settings), timeout=settings.timeout, trust_env=True
        ) as http:
            return http.get(
                f"{settings.endpoint}/1/auth",
                headers={"X-Honeycomb-Team": key.reveal(), "User-Agent": USER_AGENT},
            )
    except httpx.HTTPError as problem:
        raise CommandError(
            f"cannot reach {settings.endpoint} ({type(problem).__name__}: "
            f"{key.scrubbed(str(problem)) or 'no details'}); check {_endpoint_source(args)}"
        ) from None


def _auth_answer(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """The /1/auth answer of a valid key; `CommandError` saying which setting to fix."""
    response = _get_auth(args, settings)
    try:
        body = json_decoder.decode(response.content) if response.content else None
    except msgspec.DecodeError:
        body = None
    key = settings.api_key
    reason = body.get("error") if isinstance(body, dict) else None
    reason_text = key.scrubbed(_printable(reason or response.text or response.reason_phrase))
    if response.status_code in (400, 401, 403):
        raise CommandError(
            f"{settings.endpoint} rejected the key from {key.source} "
            f"({response.status_code}: {reason_text}); set {key.source} to an ingest key "
            "from your Honeycomb environment's settings"
        )
    if response.status_code != 200 or not isinstance(body, dict):
        raise CommandError(
            f"unexpected answer from {settings.endpoint}/1/auth: {response.status_code} "
            f"{reason_text[:200]}; is {_endpoint_source(args)} a Honeycomb API endpoint?"
        )
    return body


def _print_access(out: TextIO, key: ApiKey, body: dict[str, Any]) -> None:
    """Print the team, environment and permissions; `CommandError` if the key may not send
    events (an answer that lists no permissions is taken as allowing it)."""
    team_name = _printable(_name_of(body.get("team")) or "(not given)")
    environment_name = _printable(_name_of(body.get("environment")) or "(none: a classic key)")
    access = body.get("api_key_access")
    out.write(f"team: {team_name}\n")
    out.write(f"environment: {environment_name}\n")
    if not isinstance(access, dict):
        return
    granted = sorted(str(name) for name, allowed in access.items() if allowed is True)
    out.write(f"access: {', '.join(granted) or 'none'}\n")
    if access.get("events") is not True:
        out.flush()
        raise CommandError(
            f"the key from {key.source} is valid but may not send events; use an "
            "ingest key (or a key with the 'Send Events' permission)"
        )


def check(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Ask ``GET /1/auth`` whether the configured key is valid; print team and environment."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        settings = settings_from(args)
    except ConfigurationError as problem:
        return fail(err, "check", str(problem), EXIT_USAGE)
    out.write(f"endpoint: {settings.endpoint}\n")
    out.write(f"key from {settings.api_key.source}\n")
    out.flush()
    try:
        _print_access(out, settings.api_key, _auth_answer(args, settings))
    except CommandError as problem:
        return fail(err, "check", str(problem), problem.code)
    out.write("the key is valid\n")
    out.flush()
    return EXIT_OK


def add_parser(commands: Commands) -> None:
    parser = add_command(
        commands,
        "check",
        check,
        "validate the configured API key",
        "Ask the endpoint's /1/auth whether the configured key is valid, and "
        "print its team and environment (never the key).",
    )
    add_key_options(parser)
