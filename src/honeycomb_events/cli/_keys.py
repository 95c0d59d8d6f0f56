"""The key and endpoint options of the commands that talk to Honeycomb (`send`, `check`).

The key is read from an environment variable, never from the command line, where ``ps`` and
shell histories would show it; every message names that variable instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import os

from honeycomb_events._config import ENV_API_KEY, ApiKey, Settings, resolve_settings
from honeycomb_events._errors import ConfigurationError


def add_key_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint",
        help="the Events API to use (default: HONEYCOMB_API_ENDPOINT, else "
        "https://api.honeycomb.io)",
    )
    parser.add_argument(
        "--api-key-env",
        metavar="NAME",
        help=f"read the key from this environment variable (default: {ENV_API_KEY}); "
        "the key is never accepted on the command line",
    )


def key_variable(args: argparse.Namespace) -> str:
    """The variable ``--api-key-env`` names, by default ``HONEYCOMB_API_KEY``."""
    return str(args.api_key_env or ENV_API_KEY)


def api_key(args: argparse.Namespace) -> ApiKey:
    """The key from ``--api-key-env`` (default ``HONEYCOMB_API_KEY``), named by its variable."""
    variable = key_variable(args)
    value = os.environ.get(variable, "").strip()
    if not value:
        raise ConfigurationError(
            f"no Honeycomb API key: set {variable} to an ingest key from your Honeycomb "
            "environment's settings"
        )
    return ApiKey(value, variable)


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings as the client resolves them, the key named by the variable it came from."""
    key = api_key(args)
    settings = resolve_settings(api_key=key.reveal(), endpoint=args.endpoint)
    return dataclasses.replace(settings, api_key=key)
