"""The query page in headless Chromium: what a person sees of a grouped query (a line per group
in each chart, a legend naming them), of a heatmap (its cells), and where a row's link and a
cell's link lead. Screenshots: ``query-lines``, ``query-heatmap``, ``query-narrowed``."""

from __future__ import annotations

import random
from urllib.parse import urlencode

import pytest

from honeycomb_events._model import parse_rfc3339_ns
from honeycomb_events._query_spec import Calculation, QuerySpec
from honeycomb_events.receiver import Receiver

from .browser import screenshot
from .test_web_query import post

ROUTES = ("/cart", "/checkout", "/pay", "/search", "/home", "/login", "/api/items")
SINCE, UNTIL = "2024-05-01T12:00:00Z", "2024-05-01T12:10:00Z"


@pytest.fixture
def shop(receiver: Receiver) -> Receiver:
    """Ten minutes of a shop's requests, a route's latency its own, 1,400 events."""
    chance = random.Random(19)
    items = []
    for n in range(1400):
        route = ROUTES[n % len(ROUTES)]
        items.append(
            {
                "time": f"2024-05-01T12:{n // 140:02d}:{n % 140 * 60 // 140:02d}Z",
                "data": {
                    "http.route": route,
                    "duration_ms": chance.lognormvariate(2.5 + ROUTES.index(route) * 0.3, 0.4),
                    "trace.trace_id": f"{n:032x}",
                    "trace.span_id": f"{n:016x}",
                    "name": f"GET {route}",
                    "service.name": "shop",
                },
            }
        )
    post(receiver, "shop", items)
    return receiver


def url(receiver: Receiver, *pairs: tuple[str, str]) -> str:
    window = [("since", SINCE), ("until", UNTIL), ("granularity", "30s")]
    return f"{receiver.url}/query?{urlencode([('dataset', 'shop'), *pairs, *window])}"


def test_a_grouped_query_draws_a_line_per_group_named_in_the_legend(shop, page):
    page.goto(url(shop, ("calc", "P99(duration_ms)"), ("calc", "COUNT"), ("by", "http.route")))
    charts = page.locator("svg.line-chart")
    assert charts.count() == 2
    for index in range(2):
        lines = charts.nth(index).locator("g.series > path")
        assert lines.count() == len(ROUTES)
        for line in range(len(ROUTES)):
            box = lines.nth(line).bounding_box()
            assert box is not None
            assert box["width"] > 500  # drawn across the chart
    legend = page.locator("ul.legend").first.inner_text().split("\n")
    table = page.locator("table.groups tr.group td:nth-child(2)").all_inner_texts()
    assert sorted(legend) == sorted(ROUTES)
    assert legend == table  # the same groups, in the table's order, with the same colours
    # A slower route has a higher P99: the table's first row, ordered by P99 descending.
    assert table[0] == "/api/items"
    assert page.locator("svg.line-chart text.tick").count() > 8  # both axes have labels
    screenshot(page, "query-lines")


def test_hovering_a_line_fades_the_others(shop, page):
    page.goto(url(shop, ("calc", "AVG(duration_ms)"), ("by", "http.route")))
    series = page.locator("svg.line-chart g.series")
    # The highest point of the slowest route (the first group): no other line covers it.
    highest = series.first.locator("circle").evaluate_all(
        "cs => cs.map(c => c.getBoundingClientRect()).sort((a, b) => a.top - b.top)[0]"
    )
    page.mouse.move(highest["x"] + highest["width"] / 2, highest["y"] + highest["height"] / 2)
    opacity = series.evaluate_all("gs => gs.map(g => getComputedStyle(g).opacity)")
    assert opacity[0] == "1"
    assert sorted(set(opacity[1:])) == ["0.3"]


def test_a_heatmap_draws_its_cells_and_a_cell_leads_to_its_events(shop, page):
    page.goto(url(shop, ("calc", "HEATMAP(duration_ms)"), ("calc", "COUNT")))
    spec = QuerySpec.create(
        calculations=[Calculation("HEATMAP", "duration_ms")],
        start_ns=parse_rfc3339_ns(SINCE),
        end_ns=parse_rfc3339_ns(UNTIL),
        granularity_ns=30 * 10**9,
    )
    expected = shop.store.query("shop", spec).heatmaps["HEATMAP(duration_ms)"]
    filled = sum(1 for row in expected.counts for count in row if count)
    cells = page.locator("svg.heatmap rect")
    assert cells.count() == filled
    assert page.locator("svg.heatmap text.tick").count() > 8
    screenshot(page, "query-heatmap")
    title = cells.first.locator("title").text_content()
    count = title.rsplit(": ", 1)[1].split()[0]
    cells.first.click()
    page.wait_for_url("**/query?*")
    assert f"{count} matching event" in page.locator("p.summary").inner_text()
    listed = page.locator("#events ~ table tr").count() - 1
    assert listed == min(int(count), 20)


def test_a_row_link_shows_the_narrowed_answer(shop, page):
    page.goto(url(shop, ("calc", "P99(duration_ms)"), ("calc", "COUNT"), ("by", "http.route")))
    row = page.locator("table.groups tr.group", has_text="/checkout")
    row.locator("a", has_text="events").click()
    page.wait_for_url("**/query?*")
    assert page.locator("table.groups tr.group").count() == 1
    assert page.locator("table.groups tr.group td:nth-child(2)").inner_text() == "/checkout"
    assert page.locator("svg.line-chart").first.locator("g.series").count() == 1
    assert "200 matching events" in page.locator("p.summary").inner_text()
    names = page.locator("#events ~ table tr td:nth-child(3)").all_inner_texts()
    assert names == ["GET /checkout"] * 20
    traces = page.locator("#events ~ table a[href^='/trace/']")
    assert traces.count() == 20
    # The form shows the narrowing filter, so the person can edit it.
    wheres = page.locator("input[name=where]").evaluate_all("inputs => inputs.map(i => i.value)")
    assert "http.route=/checkout" in wheres
    screenshot(page, "query-narrowed")
