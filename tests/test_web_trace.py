"""The trace view as HTML (issue 19): what each row, mark, legend and span's details show for a
trace as instrumented services send it, and that any stored value still renders, escaped and
bounded. `test_browser_trace.py` checks what Chromium shows of the same page."""

from __future__ import annotations

import html
import re
import time

import httpx
import pytest

from honeycomb_events.receiver import Receiver
from honeycomb_events.receiver._web_page import service_colour

from .test_web import drawn_span_ids, post_spans
from .web_traces import FRONTEND, PAYMENTS, ShopTrace, send_shop_trace


@pytest.fixture
def shop(receiver: Receiver) -> ShopTrace:
    return send_shop_trace(receiver)


def trace_page(receiver: Receiver, trace_id: str) -> str:
    response = httpx.get(f"{receiver.url}/trace/{trace_id}")
    assert response.status_code == 200
    return response.text


def rows_by_name(page: str) -> dict[str, str]:
    """Each drawn row's HTML by its span's name (the names of the test traces are unique)."""
    rows = re.findall(r"<details class=row .*?</details>", page, flags=re.DOTALL)
    named = {re.search(r"<span class='op[^']*'[^>]*>([^<]*)<", row).group(1): row for row in rows}
    assert len(named) == len(rows)
    return named


def summary(row: str) -> str:
    """What a row shows without a click."""
    return row.split("<summary>", 1)[1].split("</summary>", 1)[0]


def details(row: str) -> str:
    """What a click on a row opens."""
    return row.split("</summary>", 1)[1]


def shown(rows: dict[str, str], kind: str) -> dict[str, str]:
    """The text each row shows, without a click, in its element of class `kind`; rows without
    one are left out."""
    return {
        name: html.unescape(found.group(1))
        for name, row in rows.items()
        if (found := re.search(rf"<span class={kind}[^>]*>([^<]*)<", summary(row)))
    }


def text_of(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", fragment))


def test_each_row_shows_its_service_and_bars_take_the_service_colour(receiver, shop):
    rows = rows_by_name(trace_page(receiver, shop.trace_id))
    services = {
        "GET /checkout": FRONTEND,
        "SELECT cart": FRONTEND,
        "GET": FRONTEND,
        "POST": FRONTEND,
        "POST /v1/charges": PAYMENTS,
        "charge card": PAYMENTS,
    }
    assert set(rows) == set(services)
    assert service_colour(FRONTEND) != service_colour(PAYMENTS)
    for name, service in services.items():
        assert "<span class=svc>" in summary(rows[name])
        assert re.search(r"<span class=svc>.*?</span>([^<]*)</span>", rows[name]).group(1) == (
            service
        )
        bar = re.search(r"class='span-bar[^']*' data-span-id='[^']*' style='([^']*)'", rows[name])
        assert bar.group(1).endswith(f"--c:{service_colour(service)}")


def test_a_legend_names_the_services_with_their_colours_and_explains_the_marks(receiver, shop):
    page = trace_page(receiver, shop.trace_id)
    legend = page.split("<div class=legend>", 1)[1].split("<div class=axis>", 1)[0]
    services = re.findall(
        r"<span class=service><span class=swatch style='--c:([^']+)'></span>([^<]+) "
        r"<span class=note>([^<]+)</span>",
        legend,
    )
    assert services == [
        (service_colour(FRONTEND), FRONTEND, "4 spans"),
        (service_colour(PAYMENTS), PAYMENTS, "2 spans"),
    ]
    for kind, meaning in (
        ("event", "span event"),
        ("log", "log record"),
        ("exception", "exception or error"),
    ):
        assert f"<span class='key {kind}'></span>{meaning}" in legend


def test_rows_show_the_span_kind_and_the_start_from_the_trace_start(receiver, shop):
    rows = rows_by_name(trace_page(receiver, shop.trace_id))
    assert shown(rows, "kind") == {
        "GET /checkout": "server",
        "SELECT cart": "client",
        "GET": "client",
        "POST": "client",
        "POST /v1/charges": "server",
        "charge card": "internal",
    }
    starts = {
        event.data["name"]: event.time_ns
        for dataset in (FRONTEND, PAYMENTS)
        for event in receiver.events(dataset)
        if "trace.span_id" in event.data
    }
    first = min(starts.values())
    for name, row in rows.items():
        offset = re.search(r"<span class=offset>([^<]*)<", row).group(1)
        assert offset == f"+{(starts[name] - first) / 1e6:.2f} ms"
    assert re.search(r"<span class=offset>([^<]*)<", rows["GET /checkout"]).group(1) == "+0.00 ms"


def test_client_spans_show_the_url_they_called_next_to_the_name(receiver, shop):
    rows = rows_by_name(trace_page(receiver, shop.trace_id))
    # The server span's name says its request already: it is not repeated.
    assert shown(rows, "url") == {
        "POST": "POST http://payments.local:8080/v1/charges",  # http.method, http.url
        "GET": "GET inventory.local/v1/stock",  # http.request.method, server.address, url.path
    }


def test_a_failed_span_shows_its_exception_message_in_its_row(receiver, shop):
    rows = rows_by_name(trace_page(receiver, shop.trace_id))
    assert shown(rows, "why") == {"charge card": "RuntimeError: card declined by the issuer"}
    assert "<span class='op error'" in summary(rows["charge card"])
    assert "<span class='op error'" in summary(rows["POST"])  # failed, without a message
    assert "span-bar failed" in summary(rows["POST"])


def test_the_stack_trace_keeps_its_line_breaks(receiver, shop):
    rows = rows_by_name(trace_page(receiver, shop.trace_id))
    stack = re.search(r"<pre class=stack>(.*?)</pre>", details(rows["charge card"]), re.DOTALL)
    assert html.unescape(stack.group(1)).splitlines() == shop.traceback_lines
    assert len(shop.traceback_lines) >= 5
    assert "exception.stacktrace" not in details(rows["charge card"])  # shown once, above
    assert "<pre class=stack>" not in trace_page(receiver, shop.trace_id).replace(
        rows["charge card"], ""
    )


def test_marks_carry_their_text_severity_and_kind(receiver, shop):
    rows = rows_by_name(trace_page(receiver, shop.trace_id))

    def tips(row: str) -> list[tuple[str, str]]:
        return [
            (kind, html.unescape(text))
            for kind, text in re.findall(
                r"<span class='mark (\w+)'[^>]*><span class=tip>([^<]*)</span>", summary(row)
            )
        ]

    (select_mark,) = tips(rows["SELECT cart"])
    assert select_mark[0] == "event"
    assert re.fullmatch(r"span event at \+\d+\.\d\d ms\nrows read", select_mark[1])
    charge = dict(tips(rows["charge card"]))
    assert re.fullmatch(
        r"log \(warn\) at \+\d+\.\d\d ms\ncard declined: retrying is pointless", charge["log"]
    )
    assert re.fullmatch(
        r"span event at \+\d+\.\d\d ms\nexception\nRuntimeError: card declined by the issuer",
        charge["exception"],
    )
    assert tips(rows["GET /checkout"]) == []
    # The details list them too.
    assert "card declined: retrying is pointless" in text_of(details(rows["charge card"]))


def test_resource_fields_are_shown_apart_from_the_spans_own(receiver, shop):
    rows = rows_by_name(trace_page(receiver, shop.trace_id))
    opened = details(rows["charge card"])
    own = opened.split("<h3>span fields</h3>", 1)[1].split("<h3>", 1)[0]
    resource = opened.split("<h3>resource fields</h3>", 1)[1].split("<h3>", 1)[0]

    def names(table: str) -> set[str]:
        return set(re.findall(r"<tr><td>([^<]*)</td>", table))

    assert {"service.name", "host.name", "telemetry.sdk.language"} <= names(resource)
    assert all(name.startswith(("service.", "telemetry.", "host.")) for name in names(resource)), (
        names(resource)
    )
    assert {"name", "span.kind", "status_message", "trace.span_id", "duration_ms"} <= names(own)
    assert not any(name.startswith(("service.", "telemetry.", "host.")) for name in names(own))


def test_spans_with_children_have_a_fold_button_saying_how_many_it_hides(receiver, shop):
    page = trace_page(receiver, shop.trace_id)
    rows = rows_by_name(page)
    folds = {
        name: re.search(r"<button type=button class=fold [^>]*title='hide the ([^']*) below'", row)
        for name, row in rows.items()
    }
    assert {name: found.group(1) for name, found in folds.items() if found} == {
        "GET /checkout": "5 spans",
        "POST": "2 spans",
        "POST /v1/charges": "1 span",
    }
    depths = [int(depth) for depth in re.findall(r"<details class=row data-depth='(\d+)'>", page)]
    assert depths == [0, 1, 1, 1, 2, 3]
    assert "<script>" in page  # the collapsing script ships inside the page
    assert "src=" not in page  # and nothing is fetched


def thousand_spans(trace_id: str) -> list[dict[str, object]]:
    """A request fanning out ten children a span, four levels deep, each span with about 20
    fields, as a service sends them."""
    spans: list[dict[str, object]] = []
    for n in range(1000):
        span: dict[str, object] = {
            "trace.trace_id": trace_id,
            "trace.span_id": f"s{n}",
            "name": f"SELECT stock {n}" if n else "GET /report",
            "duration_ms": 1000 - n * 0.9,
            "service.name": ("reports", "inventory", "pricing")[n % 3],
            "service.instance.id": "instance-1",
            "telemetry.sdk.language": "python",
            "telemetry.sdk.name": "opentelemetry",
            "telemetry.sdk.version": "1.27.0",
            "host.name": "web-1",
            "span.kind": "client" if n else "server",
            "db.system": "postgresql",
            "db.statement": "SELECT * FROM stock WHERE item = $1",
            "server.address": "db.local",
            "library.name": "opentelemetry.instrumentation.psycopg2",
            "meta.signal_type": "trace",
            "status_code": 0,
            "span.num_events": 0,
            "span.num_links": 0,
        }
        if n:
            span["trace.parent_id"] = f"s{(n - 1) // 10}"
        spans.append(span)
    return spans


def test_a_trace_of_1000_spans_renders_every_row_in_bounded_size(receiver):
    post_spans(receiver, "reports", thousand_spans("wide"))
    started = time.perf_counter()
    page = trace_page(receiver, "wide")
    elapsed = time.perf_counter() - started
    assert drawn_span_ids(page) == [
        span_id
        for span_id in re.findall(r"data-span-id='([^']*)'", page)
        if span_id.startswith("s")
    ]
    assert sorted(drawn_span_ids(page)) == sorted(f"s{n}" for n in range(1000))
    assert "<p>1000 spans, " in page
    assert "class=url" not in page  # a database's server.address alone is no request
    # Every row with its fields: about 2.5 KB a span with 20 fields, and nothing more.
    assert len(page.encode()) < 3_000_000, len(page)
    print(f"1000-span trace page: {len(page) / 1024:.0f} KiB in {elapsed * 1000:.0f} ms")


def test_any_stored_value_renders_in_the_new_parts_of_a_row(receiver):
    huge = "x" * 60_000  # within Honeycomb's 64 KB a string
    hostile = "<script>alert(1)</script>'\""
    post_spans(
        receiver,
        "odd-fields",
        [
            {
                "trace.trace_id": "odd2",
                "trace.span_id": "a",
                "name": "root",
                "service.name": {"not": "a string"},
                "span.kind": ["client"],
                "http.method": 7,
                "http.url": huge,
                "error": True,
                "exception.message": {"nested": [hostile]},
                "exception.stacktrace": 12,
            },
            {
                "trace.trace_id": "odd2",
                "trace.span_id": "b",
                "trace.parent_id": "a",
                "name": hostile,
                "service.name": hostile,
                "url.full": hostile,
                "error": True,
                "exception.type": None,
                "status_message": huge,
                "host.name": hostile,
            },
            {
                "trace.trace_id": "odd2",
                "trace.parent_id": "a",
                "meta.signal_type": "log",
                "body": hostile,
                "severity": {"level": 3},
            },
            {
                "trace.trace_id": "odd2",
                "trace.parent_id": "b",
                "meta.annotation_type": "span_event",
                "name": "exception",
                "exception.message": huge,
                "exception.type": [1, 2],
                "error": "yes",
            },
        ],
    )
    page = trace_page(receiver, "odd2")
    assert "<script>alert" not in page
    assert sorted(drawn_span_ids(page)) == ["a", "b"]
    rows = re.findall(r"<details class=row .*?</details>", page, flags=re.DOTALL)
    root, child = (summary(row) for row in rows)
    # Texts in a row are cut: the long url and messages are not repeated whole.
    assert len(root) < 3000
    assert len(child) < 4000
    assert '{"not":"a string"}' in html.unescape(root)
    assert "7 xxxxxxxx" in root  # the method, then the start of the URL
    assert html.escape('{"nested":["<script>') in root  # a message that is not a string
    assert html.escape(hostile) in child
    assert len(page) < 400_000  # the long fields, once each, and the page around them


def test_a_span_without_fields_read_still_shows_its_service_and_marks(receiver, monkeypatch):
    from honeycomb_events.receiver import _web_trace

    monkeypatch.setattr(_web_trace, "SPAN_DATA_BUDGET", 10)
    post_spans(
        receiver,
        "budget",
        [
            {"trace.trace_id": "big", "trace.span_id": "r", "name": "root", "service.name": "svc"},
            {
                "trace.trace_id": "big",
                "trace.parent_id": "r",
                "meta.annotation_type": "span_event",
                "name": "exception",
                "exception.type": "ValueError",
                "exception.message": "bad input",
            },
        ],
    )
    page = trace_page(receiver, "big")
    assert "fields not shown: the trace's spans are too large" in page
    assert "<span class=svc>" in page
    assert "ValueError: bad input" in page
