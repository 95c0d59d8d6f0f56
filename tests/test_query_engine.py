"""The query engine against answers worked out by hand: every calculation, filter operator,
group, order, limit, time bucket and sample rate, and values of every JSON type where numbers
are expected."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from honeycomb_events._query_spec import (
    Calculation,
    Filter,
    Order,
    QueryError,
    QuerySpec,
    group_filters,
)
from honeycomb_events._query_text import parse_calculation, parse_filter
from honeycomb_events.receiver import EventStore, StoredEvent

SECOND = 10**9
T0 = 1_700_000_000 * SECOND  # a multiple of 10 s: the buckets below start at T0


def event(offset_s: float, data: dict[str, Any], samplerate: int = 1) -> StoredEvent:
    return StoredEvent.create("shop", T0 + round(offset_s * SECOND), data, samplerate)


# Three 10-second buckets. /b has a sample rate of 4 on one event, and values that are not
# numbers; one event has no route.
SHOP = [
    event(1, {"http.route": "/a", "duration_ms": 10, "status": 200}),
    event(2, {"http.route": "/a", "duration_ms": 20, "status": 200}),
    event(12, {"http.route": "/a", "duration_ms": 30, "status": 500}),
    event(22, {"http.route": "/a", "duration_ms": 40.5, "status": 200}),
    event(5, {"http.route": "/b", "duration_ms": 100, "status": 200}, samplerate=4),
    event(6, {"http.route": "/b", "duration_ms": 200, "status": 200}),
    event(15, {"http.route": "/b", "duration_ms": "300", "status": 200}),
    event(16, {"http.route": "/b", "duration_ms": True, "status": 200}),
    event(25, {"duration_ms": 5, "status": 404}),
    event(3, {"http.route": "/c", "duration_ms": {"nested": 1}, "status": 200}),
    event(40, {"http.route": "/a", "duration_ms": 1000}),  # after the range
]


@pytest.fixture
def shop() -> EventStore:
    store = EventStore()
    store.add("Shop", SHOP)
    return store


def spec(**options: Any) -> QuerySpec:
    options.setdefault("start_ns", T0)
    options.setdefault("end_ns", T0 + 30 * SECOND)
    options.setdefault("granularity_ns", 10 * SECOND)
    calcs = options.pop("calcs", ["COUNT"])
    where = options.pop("where", [])
    return QuerySpec.create(
        calculations=[parse_calculation(text) for text in calcs],
        filters=[parse_filter(text) if isinstance(text, str) else text for text in where],
        **options,
    )


def by_group(store: EventStore, query: QuerySpec) -> dict[Any, dict[str, Any]]:
    result = store.query("shop", query)
    return {group.key: group.values for group in result.groups}


def test_each_calculation_over_groups_weighted_by_sample_rate(shop):
    calcs = ["COUNT", "SUM(duration_ms)", "AVG(duration_ms)", "MIN(duration_ms)"]
    calcs += ["MAX(duration_ms)", "COUNT_DISTINCT(duration_ms)", "P50(duration_ms)"]
    calcs += ["P90(duration_ms)", "P25(duration_ms)", "P99(duration_ms)"]
    groups = by_group(shop, spec(calcs=calcs, breakdowns=["http.route"]))
    assert groups[("/a",)] == {
        "COUNT": 4,
        "SUM(duration_ms)": 100.5,
        "AVG(duration_ms)": 25.125,
        "MIN(duration_ms)": 10,
        "MAX(duration_ms)": 40.5,
        "COUNT_DISTINCT(duration_ms)": 4,
        "P50(duration_ms)": 20,  # nearest rank: the 2nd of 4
        "P90(duration_ms)": 40.5,
        "P25(duration_ms)": 10,
        "P99(duration_ms)": 40.5,
    }
    # 100 kept 1 in 4 weighs 4; "300" and true are no numbers but are events.
    assert groups[("/b",)] == {
        "COUNT": 7,
        "SUM(duration_ms)": 600,
        "AVG(duration_ms)": 120,
        "MIN(duration_ms)": 100,
        "MAX(duration_ms)": 200,
        "COUNT_DISTINCT(duration_ms)": 4,  # 100, 200, "300", true: not weighted
        "P50(duration_ms)": 100,  # 2.5 of a weight of 5 lies at 100
        "P90(duration_ms)": 200,
        "P25(duration_ms)": 100,
        "P99(duration_ms)": 200,
    }
    no_numbers = groups[("/c",)]
    assert no_numbers["COUNT"] == 1
    assert no_numbers["COUNT_DISTINCT(duration_ms)"] == 1  # the object is a value
    assert all(no_numbers[label] is None for label in calcs[1:5] + calcs[6:])
    assert groups[(None,)]["SUM(duration_ms)"] == 5  # no route: a group of its own


def test_groups_are_ordered_by_the_first_calculation_then_limited(shop):
    result = shop.query("SHOP", spec(breakdowns=["http.route"]))
    # COUNT descending; ties by the group's values, a missing one last.
    assert [group.key for group in result.groups] == [("/b",), ("/a",), ("/c",), (None,)]
    assert [group.values["COUNT"] for group in result.groups] == [7, 4, 1, 1]
    assert [group.events for group in result.groups] == [4, 4, 1, 1]
    assert (result.total_groups, result.events) == (4, 10)

    limited = shop.query("shop", spec(breakdowns=["http.route"], limit=2))
    assert [group.key for group in limited.groups] == [("/b",), ("/a",)]
    assert limited.total_groups == 4

    def order(*orders: Order) -> list[Any]:
        calcs = ["COUNT", "MAX(duration_ms)"]
        query = spec(calcs=calcs, breakdowns=["http.route"], orders=list(orders))
        return [group.key[0] for group in shop.query("shop", query).groups]

    # /c has no numbers: no MAX, which comes last either way.
    assert order(Order("duration_ms", "MAX", descending=False)) == [None, "/a", "/b", "/c"]
    assert order(Order("duration_ms", "MAX")) == ["/b", "/a", None, "/c"]
    assert order(Order("http.route", None, descending=False)) == ["/a", "/b", "/c", None]
    assert order(Order("http.route", None, descending=True)) == ["/c", "/b", "/a", None]
    count_up = Order(None, "COUNT", descending=False)
    assert order(count_up, Order("http.route", None, descending=True)) == ["/c", None, "/a", "/b"]


def test_time_series_per_group_and_bucket(shop):
    result = shop.query(
        "shop", spec(calcs=["COUNT", "P50(duration_ms)"], breakdowns=["http.route"])
    )
    assert result.bucket_starts_ns == [T0, T0 + 10 * SECOND, T0 + 20 * SECOND]
    series = {group.key: group.series for group in result.groups}
    assert series[("/a",)] == {"COUNT": [2, 1, 1], "P50(duration_ms)": [10, 30, 40.5]}
    assert series[("/b",)] == {"COUNT": [5, 2, 0], "P50(duration_ms)": [100, None, None]}
    assert series[(None,)] == {"COUNT": [0, 0, 1], "P50(duration_ms)": [None, None, 5]}


def test_buckets_start_at_multiples_of_the_granularity(shop):
    query = spec(start_ns=T0 + 5 * SECOND, end_ns=T0 + 25 * SECOND)
    result = shop.query("shop", query)
    assert result.bucket_starts_ns == [T0, T0 + 10 * SECOND, T0 + 20 * SECOND]
    assert result.groups[0].series["COUNT"] == [5, 3, 1]  # from 5 s, up to 25 s


def test_every_filter_operator(shop):
    def routes(*where: str, any_filter: bool = False) -> list[Any]:
        query = spec(
            breakdowns=["http.route"],
            where=list(where),
            any_filter=any_filter,
            orders=[Order("http.route", None, descending=False)],
        )
        return [group.key[0] for group in shop.query("shop", query).groups]

    assert routes("status=200") == ["/a", "/b", "/c"]
    assert routes("status!=200") == ["/a", None]
    assert routes("duration_ms>30") == ["/a", "/b"]
    assert routes("duration_ms>=200") == ["/b"]
    assert routes("duration_ms<10") == [None]
    assert routes("duration_ms<=10") == ["/a", None]
    assert routes("duration_ms=300") == ["/b"]  # the string "300" equals the number as text
    assert routes("http.route exists") == ["/a", "/b", "/c"]
    assert routes("http.route does-not-exist") == [None]
    assert routes("http.route contains b") == ["/b"]
    assert routes("http.route does-not-contain b") == ["/a", "/c", None]
    assert routes("http.route starts-with /c") == ["/c"]
    assert routes("http.route does-not-start-with /") == [None]
    assert routes("status in 404,500") == ["/a", None]
    assert routes("status not-in 200,500") == [None]
    assert routes("status=404", "duration_ms=true", any_filter=True) == ["/b", None]
    assert routes("status=200", "duration_ms>150") == ["/b"]


def test_group_filters_select_a_groups_events(shop):
    result = shop.query("shop", spec(breakdowns=["http.route", "status"]))
    for group in result.groups:
        filters = group_filters(["http.route", "status"], group.key)
        events = shop.events("shop", since_ns=T0, until_ns=T0 + 30 * SECOND, filters=filters)
        assert len(events) == group.events, group.key
        assert {(e.data.get("http.route"), e.data.get("status")) for e in events} == {group.key}


def test_heatmap_counts_values_by_value_and_time_bucket():
    store = EventStore()
    store.add(
        "shop",
        [
            event(1, {"d": 0, "r": "x"}),
            event(2, {"d": 5, "r": "y"}, samplerate=2),
            event(12, {"d": 10, "r": "x"}),
            event(13, {"d": "ten", "r": "x"}),
        ],
    )
    result = store.query("shop", spec(calcs=["HEATMAP(d)", "COUNT"], breakdowns=["r"]))
    heatmap = result.heatmaps["HEATMAP(d)"]
    assert heatmap.edges[0] == 0
    assert heatmap.edges[-1] == 10
    assert len(heatmap.edges) == 31
    first, second, third = heatmap.counts
    assert (first[0], first[15], sum(first)) == (1, 2, 3)  # 5 weighs 2
    assert (second[29], sum(second)) == (1, 1)
    assert sum(third) == 0
    histograms = {group.key: group.values["HEATMAP(d)"] for group in result.groups}
    assert sum(histograms[("x",)]) == 2
    assert histograms[("y",)][15] == 2
    assert "HEATMAP(d)" not in result.groups[0].series


def test_values_of_every_type_group_apart_and_filter_by_their_type():
    values: list[Any] = [2, 2.5, "2", "abc", True, None, {"k": 1}, [1, 2], 10, "b2", 1]
    store = EventStore()
    store.add("v", [event(n, {"n": n, "v": v}) for n, v in enumerate(values)])
    store.add("v", [event(20, {"n": 20})])  # missing: grouped with null

    def ids(*where: Any, any_filter: bool = False) -> list[int]:
        filters = [parse_filter(w) if isinstance(w, str) else w for w in where]
        found = store.events("v", filters=filters, any_filter=any_filter)
        return [e.data["n"] for e in found]

    assert ids("v=2") == [0, 2]
    assert ids(Filter("v", "=", 2)) == ids(Filter("v", "=", "2")) == [0, 2]
    assert ids("v!=2") == [1, 3, 4, 5, 6, 7, 8, 9, 10, 20]
    assert ids("v>2") == [1, 8]
    assert ids("v>=2") == [0, 1, 8]
    assert ids("v<3") == [0, 1, 10]
    assert ids("v>a") == [3, 9]  # strings, by code point
    assert ids("v exists") == [0, 1, 2, 3, 4, 6, 7, 8, 9, 10]
    assert ids("v does-not-exist") == [5, 20]
    assert ids("v contains b") == [3, 9]
    assert ids("v starts-with a") == [3]
    assert ids("v in 2,abc") == [0, 2, 3]
    assert ids(Filter("v", "in", [2.5, "abc"])) == [1, 3]
    assert ids("v=true") == ids(Filter("v", "=", True)) == [4]
    assert ids("v=1") == [10]  # true is not 1
    assert ids('v={"k":1}') == [6]
    assert ids("v=[1,2]") == [7]
    assert ids("v=null") == [5]
    assert ids("v=2", "v=abc", any_filter=True) == [0, 2, 3]

    result = store.query(
        "v",
        spec(
            breakdowns=["v"], orders=[Order("v", None, descending=False)], end_ns=T0 + 30 * SECOND
        ),
    )
    assert [group.key[0] for group in result.groups] == [
        1,
        2,
        2.5,
        10,
        "2",
        "abc",
        "b2",
        True,
        [1, 2],
        {"k": 1},
        None,
    ]
    assert result.groups[-1].events == 2
    distinct = store.query("v", spec(calcs=["COUNT_DISTINCT(v)"], end_ns=T0 + 30 * SECOND))
    assert distinct.groups[0].values == {"COUNT_DISTINCT(v)": 10}  # true and 1 apart


def test_dotted_names_are_single_keys_and_nested_objects_are_values():
    store = EventStore()
    store.add("n", [event(1, {"a": {"b": 1}}), event(2, {"a.b": 7})])
    assert len(store.events("n", filters=[parse_filter("a.b exists")])) == 1
    assert store.events("n", filters=[parse_filter("a.b=7")])[0].data == {"a.b": 7}
    sums = store.query("n", spec(calcs=["SUM(a.b)", "SUM(a)"])).groups[0].values
    assert sums == {"SUM(a.b)": 7, "SUM(a)": None}


def test_numbers_beyond_a_double_are_no_numbers(tmp_path: Path):
    path = tmp_path / "events.sqlite3"
    with EventStore(path) as store:
        store.add("x", [event(1, {"d": 10**400, "g": "big"}), event(2, {"d": 1, "g": "one"})])
    with sqlite3.connect(path) as conn:  # what an older writer could have left
        conn.execute(
            "INSERT INTO events (dataset, time_ns, samplerate, data, received_ns) "
            "VALUES ('x', ?, 1, '{\"d\": 1e999, \"g\": 1e999}', 0)",
            (T0 + 3 * SECOND,),
        )
    conn.close()
    with EventStore.open_read_only(path) as store:
        calcs = ["COUNT", "SUM(d)", "MAX(d)", "P99(d)", "HEATMAP(d)"]
        result = store.query("x", spec(calcs=calcs, breakdowns=["g"]))
        groups = {group.key: group.values for group in result.groups}
        assert groups[("big",)]["SUM(d)"] is None
        assert groups[("one",)]["SUM(d)"] == 1
        assert groups[(None,)]["COUNT"] == 1  # 1e999 reads as no value
        assert result.heatmaps["HEATMAP(d)"].edges == (1.0, 1.0)


def test_sums_beyond_a_double_have_no_value():
    store = EventStore()
    store.add("x", [event(1, {"d": 1.5e308}), event(2, {"d": 1.5e308})])
    values = store.query("x", spec(calcs=["SUM(d)", "AVG(d)", "MAX(d)"])).groups[0].values
    assert values == {"SUM(d)": None, "AVG(d)": None, "MAX(d)": 1.5e308}


def test_a_field_name_with_a_double_quote_cannot_be_queried(shop):
    with pytest.raises(QueryError, match="double quote"):
        shop.query("shop", spec(breakdowns=['say "hi"']))


def test_an_unknown_dataset_or_an_empty_range_has_no_groups(shop):
    assert shop.query("nothing", spec()).groups == []
    empty = shop.query("shop", spec(start_ns=T0 + 100 * SECOND, end_ns=T0 + 110 * SECOND))
    assert (empty.groups, empty.events, empty.total_groups) == ([], 0, 0)


def test_a_file_is_read_in_parallel_parts_with_the_same_answer(tmp_path: Path, shop):
    path = tmp_path / "events.sqlite3"
    with EventStore(path) as store:
        store.add("shop", SHOP)
        query = spec(calcs=["COUNT", "P50(duration_ms)"], breakdowns=["http.route"])
        from_file = store.query("shop", query).to_json()
    assert from_file == shop.query("shop", query).to_json()
    assert Calculation("COUNT").label == "COUNT"


def test_percentiles_are_nearest_ranks():
    store = EventStore()
    store.add(
        "p",
        [event(n / 10, {"d": value}) for n, value in enumerate([7, 3, 10, 1, 5, 9, 2, 8, 6, 4])],
    )
    calcs = ["P001(d)", "P25(d)", "P50(d)", "P75(d)", "P90(d)", "P95(d)", "P99(d)", "P999(d)"]
    values = store.query("p", spec(calcs=calcs)).groups[0].values
    assert list(values.values()) == [1, 3, 5, 8, 9, 10, 10, 10]
    store.add("p", [event(5, {"d": 100}, samplerate=10)])  # now 10 of a weight of 20
    values = store.query("p", spec(calcs=calcs)).groups[0].values
    assert list(values.values()) == [1, 5, 10, 100, 100, 100, 100, 100]


def test_field_names_are_values_never_sql(shop):
    name = "x') FROM events; DROP TABLE events; --"
    result = shop.query(
        "shop", spec(calcs=[f"SUM({name})"], breakdowns=[name], where=[Filter(name, "exists")])
    )
    assert result.groups == []
    result = shop.query("shop", spec(calcs=[f"SUM({name})"], breakdowns=[name]))
    assert [group.key for group in result.groups] == [(None,)]
    assert shop.count("shop") == len(SHOP)


def test_a_closed_store_refuses_queries(tmp_path: Path):
    for store in (EventStore(), EventStore(tmp_path / "events.sqlite3")):
        store.close()
        with pytest.raises(RuntimeError, match="closed"):
            store.query("shop", spec())
