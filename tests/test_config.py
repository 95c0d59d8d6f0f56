import logging
import pickle
import re

import pytest

from honeycomb_events import ApiKey, Compression, ConfigurationError, Encoding, resolve_settings

KEY = "hcaik_01hv1234567890abcdefghijklmnopqrstuvwxyz0123456789abcdefgh"


def settings(environ=None, **arguments):
    return resolve_settings(environ=environ or {}, **arguments)


def test_defaults_with_only_a_key():
    resolved = settings({"HONEYCOMB_API_KEY": KEY})
    assert resolved.api_key.reveal() == KEY
    assert resolved.api_key.source == "HONEYCOMB_API_KEY"
    assert resolved.endpoint == "https://api.honeycomb.io"
    assert resolved.timeout == 10.0
    assert resolved.compression is Compression.ZSTD
    assert resolved.encoding is Encoding.JSON


def test_arguments_win_over_the_environment():
    environ = {
        "HONEYCOMB_API_KEY": "from-env",
        "HONEYCOMB_API_ENDPOINT": "https://api.eu1.honeycomb.io",
        "HONEYCOMB_TIMEOUT": "3",
        "HONEYCOMB_COMPRESSION": "gzip",
        "HONEYCOMB_ENCODING": "msgpack",
    }
    from_env = settings(environ)
    assert (from_env.endpoint, from_env.timeout, from_env.compression, from_env.encoding) == (
        "https://api.eu1.honeycomb.io",
        3.0,
        Compression.GZIP,
        Encoding.MSGPACK,
    )
    resolved = settings(
        environ,
        api_key=KEY,
        endpoint="http://127.0.0.1:8086/",
        timeout=1.5,
        compression="none",
        encoding="json",
    )
    assert resolved.api_key.source == "the api_key argument"
    assert (resolved.endpoint, resolved.timeout, resolved.compression, resolved.encoding) == (
        "http://127.0.0.1:8086",
        1.5,
        Compression.NONE,
        Encoding.JSON,
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "pass api_key=... or set HONEYCOMB_API_KEY"),
        ({"HONEYCOMB_API_KEY": "   "}, "pass api_key=... or set HONEYCOMB_API_KEY"),
        ({"HONEYCOMB_API_KEY": "two words"}, "HONEYCOMB_API_KEY is empty or has white space"),
        (
            {"HONEYCOMB_API_KEY": KEY, "HONEYCOMB_TIMEOUT": "soon"},
            "HONEYCOMB_TIMEOUT must be a number",
        ),
        (
            {"HONEYCOMB_API_KEY": KEY, "HONEYCOMB_TIMEOUT": "-1"},
            "HONEYCOMB_TIMEOUT must be a positive",
        ),
        (
            {"HONEYCOMB_API_KEY": KEY, "HONEYCOMB_TIMEOUT": "inf"},
            "HONEYCOMB_TIMEOUT must be a positive",
        ),
        (
            {"HONEYCOMB_API_KEY": KEY, "HONEYCOMB_COMPRESSION": "lz4"},
            "HONEYCOMB_COMPRESSION must be one of",
        ),
        (
            {"HONEYCOMB_API_KEY": KEY, "HONEYCOMB_ENCODING": "protobuf"},
            "HONEYCOMB_ENCODING must be one of",
        ),
        (
            {"HONEYCOMB_API_KEY": KEY, "HONEYCOMB_API_ENDPOINT": "api.honeycomb.io"},
            "HONEYCOMB_API_ENDPOINT must be a URL with its scheme, not 'api.honeycomb.io': "
            "did you mean 'https://api.honeycomb.io'?",
        ),
        (
            {"HONEYCOMB_API_KEY": KEY, "HONEYCOMB_API_ENDPOINT": "127.0.0.1:4318"},
            "did you mean 'http://127.0.0.1:4318'?",
        ),
        (
            {"HONEYCOMB_API_KEY": KEY, "HONEYCOMB_API_ENDPOINT": KEY},
            "not the value given (not shown: it could be a key)",
        ),
        (
            {"HONEYCOMB_API_KEY": KEY, "HONEYCOMB_API_ENDPOINT": "ftp://x"},
            "HONEYCOMB_API_ENDPOINT must be an http",
        ),
        (
            {"HONEYCOMB_API_KEY": KEY, "HONEYCOMB_API_ENDPOINT": "https://x/?a=1"},
            "must not have a query",
        ),
    ],
)
def test_bad_values_name_the_variable(environ, message):
    with pytest.raises(ConfigurationError, match=re.escape(message)) as raised:
        settings(environ)
    assert KEY not in str(raised.value)


def test_a_bad_key_error_does_not_echo_the_key():
    with pytest.raises(ConfigurationError) as raised:
        settings(api_key="secret with spaces")
    assert "secret" not in str(raised.value)
    assert "the api_key argument" in str(raised.value)


def test_plain_http_to_another_host_warns_that_the_key_travels_in_clear(caplog):
    with caplog.at_level(logging.WARNING, logger="honeycomb_events"):
        settings({"HONEYCOMB_API_KEY": KEY}, endpoint="http://collector.internal:8086")
    assert "unencrypted" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="honeycomb_events"):
        for host in ("127.0.0.1", "localhost", "[::1]"):
            settings({"HONEYCOMB_API_KEY": KEY}, endpoint=f"http://{host}:8086")
    assert caplog.text == ""


def test_api_key_never_shows_itself():
    key = ApiKey(KEY, "HONEYCOMB_API_KEY")
    resolved = settings({"HONEYCOMB_API_KEY": KEY})
    for text in (repr(key), str(key), f"{key}", repr(resolved), str(resolved)):
        assert KEY not in text
        assert "redacted" in text
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(key)


@pytest.mark.parametrize("signal", ["traces", "metrics", "logs"])
def test_a_signals_own_variables_win_over_the_general_ones(signal):
    from honeycomb_events._config import resolve_dataset

    prefix = f"HONEYCOMB_{signal.upper()}_"
    general = {
        "HONEYCOMB_API_KEY": "general-key",
        "HONEYCOMB_API_ENDPOINT": "https://general.example",
        "HONEYCOMB_DATASET": "general-dataset",
    }
    resolved = resolve_settings(environ=general, signal=signal)
    assert (resolved.api_key.reveal(), resolved.endpoint) == (
        "general-key",
        "https://general.example",
    )
    assert resolve_dataset(None, signal, general) == ("general-dataset", "HONEYCOMB_DATASET")
    own = general | {
        f"{prefix}APIKEY": "own-key",
        f"{prefix}ENDPOINT": "https://own.example",
        f"{prefix}DATASET": "own-dataset",
    }
    resolved = resolve_settings(environ=own, signal=signal)
    assert (resolved.api_key.reveal(), resolved.api_key.source) == ("own-key", f"{prefix}APIKEY")
    assert resolved.endpoint == "https://own.example"
    assert resolve_dataset(None, signal, own) == ("own-dataset", f"{prefix}DATASET")
    assert resolve_dataset("arg", signal, own) == ("arg", "the dataset argument")
    resolved = resolve_settings(environ=own, signal=signal, api_key="argument-key")
    assert resolved.api_key.reveal() == "argument-key"


@pytest.mark.parametrize("signal", ["traces", "metrics", "logs"])
def test_a_missing_key_names_both_variables_of_the_signal(signal):
    with pytest.raises(
        ConfigurationError, match=f"HONEYCOMB_{signal.upper()}_APIKEY or HONEYCOMB_API_KEY"
    ):
        resolve_settings(environ={}, signal=signal)


def test_a_bad_per_signal_endpoint_names_its_variable():
    with pytest.raises(ConfigurationError, match="HONEYCOMB_LOGS_ENDPOINT must be an http"):
        resolve_settings(
            environ={"HONEYCOMB_API_KEY": KEY, "HONEYCOMB_LOGS_ENDPOINT": "ftp://x"}, signal="logs"
        )
