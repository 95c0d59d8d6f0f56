"""``honeycomb-events query`` with ``--calc``/``--by``, as a user runs it: a table of groups or
JSON lines, from a database file or a running receiver; and the listing's new filters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from honeycomb_events.receiver import Receiver, StoredEvent

from .test_cli import run

SECOND = 10**9
T0 = 1_714_564_800 * SECOND  # 2024-05-01T12:00:00Z
WINDOW = ("--since", "2024-05-01T12:00:00Z", "--until", "2024-05-01T12:03:00Z")


def shop_events() -> list[StoredEvent]:
    rows = [
        # offset s, route, duration, status_code, sample rate
        (1, "/checkout", 120, 2, 1),
        (2, "/checkout", 400, 2, 1),
        (70, "/checkout", 250, 2, 1),
        (5, "/cart", 150, 2, 3),
        (6, "/cart", 90, 2, 1),
        (8, "/cart", 500, 0, 1),
        (9, "/search", 900, 2, 1),
        (130, "/search", 110, 2, 1),
        (10, None, 700, 2, 1),
    ]
    return [
        StoredEvent.create(
            "shop",
            T0 + offset * SECOND,
            {"duration_ms": duration, "status_code": status}
            | ({} if route is None else {"http.route": route}),
            rate,
        )
        for offset, route, duration, status, rate in rows
    ]


@pytest.fixture
def database(tmp_path: Path) -> str:
    path = tmp_path / "events.sqlite3"
    with Receiver(db_path=path) as receiver:
        receiver.store.add("shop", shop_events())
    return str(path)


ISSUE_QUERY = (
    *("--calc", "P99(duration_ms)", "--calc", "COUNT", "--by", "http.route"),
    *("--where", "status_code=2", "--where", "duration_ms>100", "--where", "http.route exists"),
    *("--order", "P99(duration_ms) desc", "--limit", "10", "--granularity", "1m"),
)


def test_the_issues_query_prints_a_table_of_groups(database):
    completed = run("query", "shop", "--db", database, *ISSUE_QUERY, *WINDOW)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines() == [
        "http.route  P99(duration_ms)  COUNT  P99(duration_ms) over time",
        "/search     900               2      █ ▂",  # no events in the second minute
        "/checkout   400               3      █▅",
        "/cart       150               3      █",
    ]
    assert completed.stderr == ""


def test_json_lines_carry_values_and_series(database):
    completed = run("query", "shop", "--db", database, *ISSUE_QUERY, *WINDOW, "--json")
    assert completed.returncode == 0, completed.stderr
    lines = [json.loads(line) for line in completed.stdout.splitlines()]
    assert [line["group"] for line in lines] == [
        {"http.route": "/search"},
        {"http.route": "/checkout"},
        {"http.route": "/cart"},
    ]
    cart = lines[2]
    assert cart["values"] == {"P99(duration_ms)": 150, "COUNT": 3}  # 150 kept 1 in 3
    assert cart["series"] == {"P99(duration_ms)": [150, None, None], "COUNT": [3, 0, 0]}
    assert cart["times"][1] == "2024-05-01T12:01:00.000000000Z"
    assert cart["events"] == 1


def test_a_running_receiver_answers_the_same(database):
    with Receiver(db_path=database) as receiver:
        over_http = run("query", "shop", "--url", receiver.url, *ISSUE_QUERY, *WINDOW, "--json")
    from_file = run("query", "shop", "--db", database, *ISSUE_QUERY, *WINDOW, "--json")
    assert over_http.returncode == 0, over_http.stderr
    assert over_http.stdout == from_file.stdout


def test_heatmaps_counts_and_a_limit_note(database):
    completed = run(
        "query", "shop", "--db", database, "--calc", "HEATMAP(duration_ms)", "--by", "http.route",
        "--limit", "2", *WINDOW,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0].startswith("http.route  HEATMAP(duration_ms) 90…900")
    assert len(lines) == 3
    assert "the first 2 of 4 groups" in completed.stderr
    by_count = run("query", "shop", "--db", database, "--by", "http.route", *WINDOW)
    lines = by_count.stdout.splitlines()
    assert lines[0].split()[:3] == ["http.route", "COUNT", "COUNT"]  # and COUNT over time
    assert [line.split()[:2] for line in lines[1:4]] == [
        ["/cart", "5"],  # COUNT by default, weighted by sample rate
        ["/checkout", "3"],
        ["/search", "2"],
    ]
    assert lines[4].split()[0] == "1"  # the events without a route: a blank group
    assert lines[4].startswith(" ")


def test_mistakes_say_what_to_change(database):
    for options, says in (
        (("--calc", "P42(duration_ms)"), "unknown calculation 'P42'"),
        (("--calc", "SUM"), "SUM needs a field"),
        (("--where", "duration_ms"), "is not a filter"),
        (("--order", "COUNT"), "need --calc or --by"),
        (("--by", "x", "--order", "AVG(y)"), "not a calculation"),
        (("--by", "x", "--granularity", "1s", "--since", "1d"), "at most 1000"),
        (("--by", "x", "--granularity", "soon"), "is not a duration"),
        (("--by", "x", "--limit", "0"), "from 1 to 1000"),
    ):
        completed = run("query", "shop", "--db", database, *options)
        assert completed.returncode == 2, (options, completed.stderr)
        assert says in completed.stderr, completed.stderr
        assert completed.stdout == ""
    unknown = run("query", "nowhere", "--db", database, "--calc", "COUNT")
    assert unknown.returncode == 0
    assert "no dataset 'nowhere'" in unknown.stderr
    assert "'shop'" in unknown.stderr
    nothing = run("query", "shop", "--db", database, "--calc", "COUNT", "--since", "1h")
    assert (nothing.returncode, nothing.stdout) == (0, "")
    assert "no events in 'shop' match" in nothing.stderr


def test_listing_takes_every_filter_from_a_file_or_a_receiver(database):
    def durations(*source: str) -> list[int]:
        completed = run(
            "query", "shop", *source, "--json", "--where", "duration_ms>=400",
            "--where", "http.route does-not-exist", "--any",
        )  # fmt: skip
        assert completed.returncode == 0, completed.stderr
        return [json.loads(line)["data"]["duration_ms"] for line in completed.stdout.splitlines()]

    assert durations("--db", database) == [400, 500, 900, 700]
    with Receiver(db_path=database) as receiver:
        assert durations("--url", receiver.url) == [400, 500, 900, 700]


def test_group_values_are_escaped_in_the_table(tmp_path):
    path = tmp_path / "events.sqlite3"
    with Receiver(db_path=path) as receiver:
        receiver.store.add(
            "hostile",
            [
                StoredEvent.create("hostile", T0, {"k": "\x1b[2Jclear", "n": 1}),
                StoredEvent.create("hostile", T0, {"k": {"nested": ["\u202e"]}, "n": 2}),
            ],
        )
    completed = run("query", "hostile", "--db", str(path), "--by", "k", "--calc", "SUM(n)", *WINDOW)
    assert completed.returncode == 0, completed.stderr
    assert "\x1b" not in completed.stdout
    assert "\u202e" not in completed.stdout
    assert "\\x1b[2Jclear" in completed.stdout
    assert '{"nested":["\\u202e"]}' in completed.stdout
