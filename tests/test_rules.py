"""HONEYCOMB_REDACT_FIELDS and HONEYCOMB_DROP_EVENTS: their grammar, how they match, and what
a malformed rule does (in code, and under the agent)."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from honeycomb_events import (
    ConfigurationError,
    HoneycombClient,
    HoneycombEventsExporter,
    HoneycombLogExporter,
    HoneycombLoggingHandler,
    HoneycombMetricExporter,
)
from honeycomb_events._rules import REDACTED, rules_from_environment, text_form
from honeycomb_events.otel._agent import (
    AgentLogExporter,
    AgentMetricExporter,
    AgentSpanExporter,
    UnconfiguredSpanExporter,
)

from .test_zero_code import agent_environ, get_from_the_example_under_the_agent

REDACT = "HONEYCOMB_REDACT_FIELDS"
DROP = "HONEYCOMB_DROP_EVENTS"


def apply(data, redact="", drop=""):
    rules = rules_from_environment({REDACT: redact, DROP: drop})
    assert rules is not None
    return rules.apply(data)


def test_no_rules_when_neither_variable_is_set_or_both_are_blank():
    assert rules_from_environment({}) is None
    assert rules_from_environment({REDACT: "  ", DROP: ""}) is None


def test_a_redacted_field_keeps_its_name_and_its_value_becomes_REDACTED():
    data = {"http.request.header.authorization": "Bearer abc", "url.full": "https://x/?t=1"}
    redacted, count = apply(data, redact="http.request.header.authorization , url.full")
    assert redacted == {
        "http.request.header.authorization": REDACTED,
        "url.full": REDACTED,
    }
    assert count == 2
    assert data["url.full"] == "https://x/?t=1"  # a copy: the caller's mapping is left alone


def test_nothing_redacted_gives_the_same_mapping_back_without_a_copy():
    data = {"name": "GET /cart"}
    assert apply(data, redact="*token*") == (data, 0)
    assert apply(data, redact="*token*")[0] is data


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("*token*", "auth.token", True),
        ("*token*", "token", True),  # '*' also matches nothing
        ("*token*", "X-Auth-TOKEN", True),  # names match whatever their case
        ("*token*", "tok.en", False),
        ("app.*", "app.user.id", True),  # '*' crosses dots
        ("app.*", "application", False),
        ("url.full", "url.full.x", False),  # a pattern matches the whole name
        ("a.b", "aXb", False),  # '.' is a dot, not a regex
        (r"price\*", "price*", True),  # an escaped '*' is literal
        (r"price\*", "prices", False),
        (r"odd\,name", "odd,name", True),
        (r"k\=v", "k=v", True),
        ("*", "anything", True),
    ],
)
def test_redaction_patterns(pattern, name, matches):
    redacted, _ = apply({name: "value"}, redact=pattern)
    assert (redacted[name] == REDACTED) is matches


@pytest.mark.parametrize(
    ("rule", "data", "dropped"),
    [
        ("http.route=/health", {"http.route": "/health"}, True),
        ("http.route=/health", {"http.route": "/healthz"}, False),
        ("http.route=/health*", {"http.route": "/healthz"}, True),
        ("http.route=/health", {"HTTP.Route": "/health"}, True),  # names: any case
        ("http.route=/health", {"http.route": "/HEALTH"}, False),  # values: as written
        ("http.route=/health", {"other": "/health"}, False),
        ("http.route=*", {"http.route": ""}, True),  # '*': the field is there
        ("http.route=*", {"other": 1}, False),
        ("http.route=*", {"http.route": None}, False),  # None is not sent: not there
        ("http.route=", {"http.route": ""}, True),  # the empty value
        ("http.route=", {"http.route": "/"}, False),
        ("http.status_code=200", {"http.status_code": 200}, True),
        ("http.status_code=2*", {"http.status_code": 204}, True),
        ("ratio=0.5", {"ratio": 0.5}, True),
        ("error=true", {"error": True}, True),
        ("error=True", {"error": True}, False),
        ("x=NaN", {"x": math.nan}, True),
        ("url.full=https://x/?a=1", {"url.full": "https://x/?a=1"}, True),  # '=' in a value
        (r"q=a\,b", {"q": "a,b"}, True),
        (r"q=a\*", {"q": "a*"}, True),
        (r"q=a\*", {"q": "ab"}, False),
        (r"q=a\\b", {"q": "a\\b"}, True),
        (r"k\=1=v", {"k=1": "v"}, True),  # an escaped '=' belongs to the name
        (" http.route = /health ", {"http.route": "/health"}, True),  # white space around
        ('tags=["a"]', {"tags": ["a"]}, True),  # other values: their JSON
        ("a=1,b=2", {"b": 2}, True),  # any rule drops
    ],
)
def test_drop_conditions(rule, data, dropped):
    kept, _ = apply(data, drop=rule)
    assert (kept is None) is dropped


def test_drop_rules_see_the_values_before_redaction():
    kept, _ = apply({"url.full": "https://x/health"}, redact="url.full", drop="url.full=*/health")
    assert kept is None


def test_names_that_are_not_strings_match_as_the_text_they_are_sent_as():
    redacted, count = apply({7: "secret", "a": 1}, redact="7")
    assert redacted[7] == REDACTED
    assert count == 1


def test_the_text_form_of_values():
    assert text_form("text") == "text"
    assert text_form(True) == "true"
    assert text_form(200) == "200"
    assert text_form(0.5) == "0.5"
    assert text_form(-math.inf) == "-Infinity"
    assert text_form({"a": [1, None]}) == '{"a":[1,null]}'
    assert text_form(dt.date(2024, 5, 1)) == '"2024-05-01"'


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (DROP, "http.route", "HONEYCOMB_DROP_EVENTS: rule 1 of 1 has no '='"),
        (DROP, "a=1,,b=2", "HONEYCOMB_DROP_EVENTS: rule 2 of 3 is empty"),
        (DROP, "a=1,", "HONEYCOMB_DROP_EVENTS: rule 2 of 2 is empty"),
        (DROP, " =x", "HONEYCOMB_DROP_EVENTS: rule 1 of 1 has no field name"),
        (DROP, "a=1,http.*=/x", "HONEYCOMB_DROP_EVENTS: rule 2 of 2 has a '\\*' in its field"),
        (DROP, r"a=\n", "HONEYCOMB_DROP_EVENTS: rule 1 has a backslash"),
        (DROP, "a=1\\", "HONEYCOMB_DROP_EVENTS: rule 1 has a backslash"),
        (REDACT, "*token*,url.full=x", "HONEYCOMB_REDACT_FIELDS: rule 2 of 2 has an '='"),
        (REDACT, "a, ,b", "HONEYCOMB_REDACT_FIELDS: rule 2 of 3 is empty"),
    ],
)
def test_a_malformed_rule_names_the_variable_and_the_rule_never_its_text(variable, value, message):
    secret = "hcaik_notshown"
    with pytest.raises(ConfigurationError, match=message) as raised:
        rules_from_environment({variable: value.replace("x", secret)})
    assert secret not in str(raised.value)


@pytest.mark.parametrize(
    "make",
    [
        HoneycombEventsExporter,
        HoneycombMetricExporter,
        HoneycombLogExporter,
        HoneycombLoggingHandler,
    ],
)
def test_in_code_a_malformed_rule_fails_at_construction(environment, make):
    environment.setenv(DROP, "http.route")
    with pytest.raises(ConfigurationError, match="HONEYCOMB_DROP_EVENTS: rule 1 of 1"):
        make()


def test_the_events_client_has_no_rules_of_the_environment(environment):
    # The signals' rules: the client's events are its caller's, changed by its own hook.
    environment.setenv(DROP, "http.route")
    assert HoneycombClient(sync=True)._presend is None


def test_under_the_agent_a_malformed_rule_sends_nothing_and_says_so_once_per_signal(
    environment, capsys
):
    # Nothing rather than everything: a redaction rule that cannot be read must not let the
    # values it was meant to hide leave the process.
    environment.setenv(REDACT, "*token*,")
    spans = AgentSpanExporter()
    AgentMetricExporter()
    AgentLogExporter()
    assert isinstance(spans, UnconfiguredSpanExporter)
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        f"honeycomb-events: {signal} are not sent to Honeycomb: HONEYCOMB_REDACT_FIELDS: "
        "rule 2 of 2 is empty (two commas in a row, or one at either end); rules are separated "
        "by commas, such as *token*,url.full"
        for signal in ("spans", "metrics", "logs")
    ]


def test_a_presend_that_cannot_be_called_fails_at_construction(environment):
    with pytest.raises(ConfigurationError, match="the presend argument"):
        HoneycombEventsExporter(presend={"drop": "me"})  # type: ignore[arg-type]


def test_with_neither_hook_nor_rules_nothing_runs_per_event(environment):
    # The exporters, the client and the handler test for a pipeline once per batch.
    assert HoneycombEventsExporter()._presend is None
    assert HoneycombClient(sync=True)._presend is None
    handler = HoneycombLoggingHandler()
    assert handler._presend is None
    handler.close()


def test_under_opentelemetry_instrument_the_rules_apply_to_every_signal(receiver):
    # The zero-code path end to end: no line of Honeycomb code, only variables.
    environ = agent_environ(receiver) | {
        # Old or new HTTP semantic conventions, whichever the instrumentation writes.
        REDACT: "*user_agent*",
        DROP: "http.response.status_code=404,http.status_code=404,severity_text=WARN",
    }
    get_from_the_example_under_the_agent(environ, ["/hello", "/missing", "/hello"])

    events = receiver.events("shop")
    spans = [e.data for e in events if e.data["meta.signal_type"] == "trace"]
    logs = [e.data for e in events if e.data["meta.signal_type"] == "log"]
    assert len(spans) == 2  # the 404's span dropped
    for span in spans:
        agents = [value for name, value in span.items() if "user_agent" in name]
        assert agents == ["REDACTED"]
    assert [log["severity_text"] for log in logs] == ["INFO", "INFO"]  # the warning dropped
    counts = [
        value
        for event in receiver.events("unknown_metrics")
        for name, value in event.data.items()
        if name.startswith("http.server") and name.endswith(".count")
    ]
    assert sum(counts) == 2  # the 404's points were an event of their own: dropped
