"""The query language: Honeycomb's JSON query specification and the command line's terms read
into one `QuerySpec`, with Honeycomb's defaults and time-range rules."""

from __future__ import annotations

import pytest

from honeycomb_events._query_json import events_request_from_json, query_from_json
from honeycomb_events._query_spec import (
    Calculation,
    Filter,
    Order,
    QueryError,
    QuerySpec,
    default_granularity_ns,
)
from honeycomb_events._query_text import parse_calculation, parse_filter, parse_order

SECOND = 10**9
NOW = 1_714_564_800 * SECOND


def test_defaults_are_honeycombs():
    spec = QuerySpec.create(now_ns=NOW)
    assert spec.calculations == (Calculation("COUNT"),)
    assert (spec.start_ns, spec.end_ns) == (NOW - 7200 * SECOND, NOW)
    assert spec.granularity_ns == 120 * SECOND  # 60 buckets of two hours
    assert spec.limit == 100
    assert spec.bucket_count == 60


@pytest.mark.parametrize(
    ("range_s", "step_s"),
    [(60, 1), (900, 10), (3600, 60), (86400, 900), (7 * 86400, 7200), (400 * 86400, 604800)],
)
def test_the_default_granularity_makes_at_most_100_buckets(range_s, step_s):
    assert default_granularity_ns(range_s * SECOND) == step_s * SECOND


def test_time_ranges_as_honeycomb_combines_them():
    def times(**body: int) -> tuple[int, int]:
        spec = query_from_json(body, now_ns=NOW)
        return (spec.start_ns - NOW) // SECOND, (spec.end_ns - NOW) // SECOND

    now_s = NOW // SECOND
    assert times(time_range=600) == (-600, 0)
    assert times(start_time=now_s - 50, time_range=20) == (-50, -30)
    assert times(end_time=now_s - 50, time_range=20) == (-70, -50)
    assert times(start_time=now_s - 50) == (-50, 0)
    assert times(end_time=now_s - 50) == (-7250, -50)
    with pytest.raises(QueryError, match="at most two"):
        times(start_time=1, end_time=2, time_range=1)
    spec = query_from_json({"start_time": 1.5, "end_time": 2.25, "granularity": 0.25})
    assert (spec.start_ns, spec.end_ns, spec.granularity_ns) == (
        1_500_000_000,
        2_250_000_000,
        250_000_000,
    )


def test_the_json_form_reads_back_as_the_same_query():
    spec = QuerySpec.create(
        calculations=[Calculation("P99", "duration_ms"), Calculation("COUNT")],
        filters=[Filter("status_code", "=", 2), Filter("x", "in", ["a", 1]), Filter("y", "exists")],
        breakdowns=["http.route", "service.name", "http.route"],
        orders=[Order("duration_ms", "P99"), Order("http.route", None, descending=False)],
        limit=10,
        start_ns=NOW - 3600 * SECOND,
        end_ns=NOW,
        any_filter=True,
    )
    assert spec.breakdowns == ("http.route", "service.name")  # named twice, counted once
    json = spec.to_json()
    assert json["orders"][0] == {"op": "P99", "column": "duration_ms", "order": "descending"}
    assert json["filter_combination"] == "OR"
    assert query_from_json(json) == spec


def test_command_line_terms():
    assert parse_calculation("p99( duration_ms )") == Calculation("P99", "duration_ms")
    assert parse_calculation("COUNT") == Calculation("COUNT")
    assert parse_calculation("HEATMAP(f(x))") == Calculation("HEATMAP", "f(x)")
    assert parse_filter("status_code=2") == Filter("status_code", "=", "2")
    assert parse_filter("duration_ms >= 100") == Filter("duration_ms", ">=", "100")
    assert parse_filter("a!=b=c") == Filter("a", "!=", "b=c")
    assert parse_filter("http.route exists") == Filter("http.route", "exists")
    assert parse_filter("name contains two words") == Filter("name", "contains", "two words")
    assert parse_filter("code IN 200, 404") == Filter("code", "in", ("200", "404"))
    assert parse_filter('tags=["a","b"]') == Filter("tags", "=", '["a","b"]')
    assert parse_order("P99(duration_ms) desc") == Order("duration_ms", "P99", descending=True)
    assert parse_order("COUNT asc") == Order(None, "COUNT", descending=False)
    assert parse_order("http.route") == Order("http.route", None, descending=False)
    assert parse_order("http.route desc") == Order("http.route", None, descending=True)
    for text in ("", "no operator here", "=value"):
        with pytest.raises(QueryError):
            parse_filter(text)
    with pytest.raises(QueryError, match="unknown calculation"):
        parse_calculation("MEDIAN(x)")


def test_an_events_request_has_no_default_range():
    wanted = events_request_from_json({"filters": [{"column": "a", "op": "does-not-exist"}]})
    assert (wanted.start_ns, wanted.end_ns, wanted.limit) == (None, None, None)
    assert wanted.filters == (Filter("a", "does-not-exist"),)
    assert events_request_from_json(wanted.to_json()) == wanted
    with pytest.raises(QueryError, match="must not be negative"):
        events_request_from_json({"limit": -1})
