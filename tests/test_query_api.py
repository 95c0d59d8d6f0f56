"""The query endpoints over real HTTP: ``POST /_receiver/query/{dataset}`` takes Honeycomb's
JSON query specification, ``POST /_receiver/query/{dataset}/events`` lists what filters keep."""

from __future__ import annotations

import time
from typing import Any

import httpx

from honeycomb_events.receiver import Receiver

from .conftest import API_KEY

T0 = 1_714_564_800  # 2024-05-01T12:00:00Z, in seconds


def post_events(receiver: Receiver, dataset: str, items: list[dict[str, Any]]) -> None:
    response = httpx.post(
        f"{receiver.url}/1/batch/{dataset}", json=items, headers={"X-Honeycomb-Team": API_KEY}
    )
    assert response.status_code == 200
    assert {answer["status"] for answer in response.json()} == {202}


def shop(receiver: Receiver) -> None:
    post_events(
        receiver,
        "Shop",
        [
            {"time": T0 + 1, "data": {"http.route": "/a", "duration_ms": 10, "status_code": 0}},
            {"time": T0 + 2, "data": {"http.route": "/a", "duration_ms": 30, "status_code": 2}},
            {"time": T0 + 61, "data": {"http.route": "/a", "duration_ms": 20, "status_code": 0}},
            {
                "time": T0 + 3,
                "samplerate": 5,
                "data": {"http.route": "/b", "duration_ms": 100, "status_code": 2},
            },
            {"time": T0 + 4, "data": {"http.route": "/b", "duration_ms": "n/a"}},
        ],
    )


def query(receiver: Receiver, dataset: str, body: Any, **options: Any) -> httpx.Response:
    return httpx.post(f"{receiver.url}/_receiver/query/{dataset}", json=body, **options)


def test_a_query_answers_groups_with_values_and_series(receiver):
    shop(receiver)
    response = query(
        receiver,
        "shop",
        {
            "calculations": [{"op": "COUNT"}, {"op": "P50", "column": "duration_ms"}],
            "breakdowns": ["http.route"],
            "orders": [{"column": "http.route", "order": "ascending"}],
            "start_time": T0,
            "end_time": T0 + 120,
            "granularity": 60,
        },
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["times"] == ["2024-05-01T12:00:00.000000000Z", "2024-05-01T12:01:00.000000000Z"]
    assert result["calculations"] == ["COUNT", "P50(duration_ms)"]
    assert result["total_groups"] == 2
    assert result["events"] == 5
    assert result["groups"] == [
        {
            "group": {"http.route": "/a"},
            "events": 3,
            "values": {"COUNT": 3, "P50(duration_ms)": 20},
            "series": {"COUNT": [2, 1], "P50(duration_ms)": [10, 20]},
        },
        {
            "group": {"http.route": "/b"},
            "events": 2,
            "values": {"COUNT": 6, "P50(duration_ms)": 100},
            "series": {"COUNT": [6, 0], "P50(duration_ms)": [100, None]},
        },
    ]
    assert result["query"]["start_time"] == T0
    assert result["heatmaps"] == {}


def test_filters_heatmaps_and_the_default_time_range(receiver):
    now = time.time()
    post_events(
        receiver,
        "recent",
        [{"time": now - 60, "data": {"d": 1}}, {"time": now - 30, "data": {"d": 3, "x": "y"}}],
    )
    body = {
        "calculations": [{"op": "HEATMAP", "column": "d"}, {"op": "MAX", "column": "d"}],
        "filters": [{"column": "d", "op": ">=", "value": 1}, {"column": "x", "op": "exists"}],
        "filter_combination": "OR",
    }
    result = query(receiver, "recent", body).json()
    assert result["query"]["end_time"] - result["query"]["start_time"] == 7200  # two hours
    assert result["groups"][0]["values"]["MAX(d)"] == 3
    heatmap = result["heatmaps"]["HEATMAP(d)"]
    assert (heatmap["edges"][0], heatmap["edges"][-1]) == (1, 3)
    assert sum(map(sum, heatmap["counts"])) == 2
    only_x = {**body, "filter_combination": "AND", "time_range": 600}
    assert query(receiver, "recent", only_x).json()["events"] == 1


def test_mistakes_are_400_with_what_to_change(receiver):
    shop(receiver)
    for body, says in (
        ({"havings": []}, "unsupported query keys: 'havings'"),
        ({"calculations": [{"op": "P42", "column": "d"}]}, "unknown calculation 'P42'"),
        ({"calculations": [{"op": "SUM"}]}, "SUM needs a field"),
        ({"filters": [{"column": "d", "op": "~"}]}, "unknown filter operator"),
        ({"filters": [{"column": "d", "op": "in", "value": 3}]}, "non-empty list"),
        ({"orders": [{"op": "AVG", "column": "d"}]}, "not a calculation"),
        ({"start_time": 10, "end_time": 5}, "the time range is empty"),
        ({"time_range": 3600, "granularity": 1}, "at most 1000"),
        ({"limit": 0}, "from 1 to 1000"),
        ({"breakdowns": ['a "quoted" name']}, "double quote"),
        ([], "must be a JSON object"),
    ):
        response = query(receiver, "shop", body)
        assert response.status_code == 400, body
        assert says in response.json()["error"], response.json()
    not_json = httpx.post(
        f"{receiver.url}/_receiver/query/shop",
        content=b"{",
        headers={"Content-Type": "application/json"},
    )
    assert not_json.status_code == 400
    assert not_json.json()["error"].startswith("invalid query")


def test_an_unknown_dataset_is_404(receiver):
    response = query(receiver, "nowhere", {})
    assert response.status_code == 404
    assert response.json() == {"error": "no dataset 'nowhere'"}


def test_the_endpoints_are_control_endpoints(receiver):
    shop(receiver)
    form = httpx.post(f"{receiver.url}/_receiver/query/shop", content=b"{}")
    assert form.status_code == 415
    foreign = query(receiver, "shop", {}, headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403
    with Receiver(api_keys={"team-key"}) as keyed:
        assert query(keyed, "shop", {}).status_code == 401
        keyed.store.add("shop", [])
        answered = query(keyed, "shop", {}, headers={"X-Honeycomb-Team": "team-key"})
        assert answered.status_code == 404  # past the key: the dataset has no events


def test_the_events_that_filters_keep(receiver):
    shop(receiver)
    url = f"{receiver.url}/_receiver/query/shop/events"
    body = {"filters": [{"column": "status_code", "op": "=", "value": 2}], "limit": 10}
    events = httpx.post(url, json=body).json()
    assert [event["data"]["duration_ms"] for event in events] == [30, 100]
    assert events[1]["samplerate"] == 5
    later = httpx.post(url, json={**body, "start_time": T0 + 3}).json()
    assert [event["data"]["duration_ms"] for event in later] == [100]
    assert len(httpx.post(url, json={}).json()) == 5
    bad = httpx.post(url, json={"filters": [{"column": "x"}]})
    assert bad.status_code == 400
    assert "filters[0].op must be a string" in bad.json()["error"]
