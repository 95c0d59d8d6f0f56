"""_datasets.py: each signal's dataset rule, applied to resolved settings."""

from __future__ import annotations

import logging

import pytest

from honeycomb_events import ConfigurationError, resolve_settings
from honeycomb_events._datasets import Routing, routing

from .conftest import API_KEY

CLASSIC_KEY = "0123456789abcdef0123456789abcdef"
SHOP = {"service.name": "shop/web "}
NO_SERVICE = {"service.name": "unknown_service:python"}


def dataset_of(signal, resource, *, key=API_KEY, argument=None, **variables):
    settings = resolve_settings(api_key=key, environ=variables, signal=signal, dataset=argument)
    return routing(signal, settings).dataset_for(resource)


@pytest.mark.parametrize(
    ("signal", "resource", "options", "dataset"),
    [
        ("traces", SHOP, {}, "shop-web"),
        ("traces", NO_SERVICE, {}, "unknown_service"),
        ("traces", SHOP, {"argument": "explicit"}, "explicit"),
        ("traces", SHOP, {"key": CLASSIC_KEY, "HONEYCOMB_DATASET": "general"}, "general"),
        (
            "traces",
            SHOP,
            {"key": CLASSIC_KEY, "HONEYCOMB_TRACES_DATASET": "own", "HONEYCOMB_DATASET": "g"},
            "own",
        ),
        ("logs", SHOP, {"HONEYCOMB_LOGS_DATASET": "logs"}, "shop-web"),
        ("logs", NO_SERVICE, {"HONEYCOMB_DATASET": "general"}, "general"),
        ("logs", None, {}, "unknown_log_source"),
        ("logs", SHOP, {"argument": "explicit"}, "explicit"),
        ("metrics", SHOP, {}, "unknown_metrics"),
        ("metrics", SHOP, {"HONEYCOMB_DATASET": "not-for-metrics"}, "unknown_metrics"),
        ("metrics", SHOP, {"HONEYCOMB_METRICS_DATASET": "metrics"}, "metrics"),
        ("metrics", SHOP, {"argument": "explicit"}, "explicit"),
    ],
)
def test_each_signals_rule(signal, resource, options, dataset):
    assert dataset_of(signal, resource, **options) == dataset


def test_an_environment_keys_traces_ignore_the_dataset_variables_and_say_so(caplog):
    with caplog.at_level(logging.WARNING, logger="honeycomb_events"):
        assert dataset_of("traces", SHOP, HONEYCOMB_DATASET="a/b") == "shop-web"
    assert "HONEYCOMB_DATASET is ignored" in caplog.text


def test_a_variable_is_checked_only_where_a_rule_uses_it():
    assert dataset_of("metrics", SHOP, HONEYCOMB_DATASET="a/b") == "unknown_metrics"
    with pytest.raises(ConfigurationError, match="HONEYCOMB_LOGS_DATASET: dataset 'a/b'"):
        dataset_of("logs", SHOP, HONEYCOMB_LOGS_DATASET="a/b")
    with pytest.raises(ConfigurationError, match="the dataset argument"):
        dataset_of("metrics", SHOP, argument="a/b")


def test_a_classic_keys_traces_need_a_dataset():
    with pytest.raises(
        ConfigurationError,
        match="set HONEYCOMB_TRACES_DATASET or HONEYCOMB_DATASET, or pass dataset=",
    ):
        dataset_of("traces", SHOP, key=CLASSIC_KEY)


def test_the_receivers_rules_are_the_exporters():
    assert Routing("metrics").dataset_for(SHOP) == "unknown_metrics"
    assert Routing("metrics", configured="header").dataset_for(SHOP) == "header"
    assert Routing("logs", configured="header").dataset_for(NO_SERVICE) == "header"
    assert Routing("traces").dataset_for(None) == "unknown_service"
