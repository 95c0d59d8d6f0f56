"""The receiver's web pages: the trace list and the waterfall, checked as HTML and in a real
headless Chromium (which `.ci/run` installs; the browser test skips only without one)."""

from __future__ import annotations

import re

import httpx
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from honeycomb_events.otel import HoneycombEventsExporter
from honeycomb_events.receiver import Receiver

from .browser import screenshot
from .conftest import API_KEY, FAST_RETRY


def send_a_trace(receiver: Receiver) -> str:
    """A checkout trace of four spans, one failed with an exception, with a span event."""
    exporter = HoneycombEventsExporter(api_key=API_KEY, endpoint=receiver.url, retry=FAST_RETRY)
    provider = TracerProvider(resource=Resource.create({"service.name": "web-shop"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("demo")
    with tracer.start_as_current_span("GET /checkout") as root:
        with tracer.start_as_current_span("SELECT cart") as select:
            select.add_event("rows read", {"rows": 3})
        with tracer.start_as_current_span("POST payments") as payment:
            with tracer.start_as_current_span("charge card") as charge:
                charge.record_exception(RuntimeError("card declined"))
                charge.set_status(Status(StatusCode.ERROR, "card declined"))
            payment.set_status(Status(StatusCode.ERROR))
    provider.shutdown()
    return format(root.get_span_context().trace_id, "032x")


def test_the_index_lists_datasets_and_the_trace(receiver):
    trace_id = send_a_trace(receiver)
    page = httpx.get(f"{receiver.url}/").text
    assert "web-shop" in page
    assert f"/trace/{trace_id}" in page
    assert "GET /checkout" in page
    assert "error" in page


def test_the_trace_page_draws_every_span_with_its_marks_and_errors(receiver):
    trace_id = send_a_trace(receiver)
    page = httpx.get(f"{receiver.url}/trace/{trace_id}").text
    assert page.count("class='span-bar") == 4
    assert page.count("span-bar failed") == 2
    assert page.count("class='mark event'") == 1  # the span event
    assert page.count("class='mark exception'") == 1  # the recorded exception
    # Children are indented under their parents, in start order.
    assert drawn_names(page) == [
        ("0", "GET /checkout"),
        ("14", "SELECT cart"),
        ("14", "POST payments"),
        ("28", "charge card"),
    ]
    assert "card declined" in page  # attributes, shown on click


def test_an_unknown_trace_is_404(receiver):
    assert httpx.get(f"{receiver.url}/trace/0123").status_code == 404


def test_chromium_draws_every_span_of_the_trace(receiver, page):
    trace_id = send_a_trace(receiver)
    page.goto(f"{receiver.url}/trace/{trace_id}")
    drawn = page.eval_on_selector_all(".span-bar", "bars => bars.map(bar => bar.dataset.spanId)")
    spans = [
        event.data["trace.span_id"]
        for event in receiver.events("web-shop")
        if "trace.span_id" in event.data
    ]
    assert sorted(drawn) == sorted(spans)
    assert screenshot(page, "trace-basic").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# Any stored value renders; every page is bounded -------------------------------------------


def post_spans(receiver: Receiver, dataset: str, events: list[dict[str, object]]) -> None:
    """Store `events` through the Events API, a millisecond apart in the order given."""
    items = [
        {"data": data, "time": f"2024-05-01T12:00:{n // 1000:02d}.{n % 1000:03d}Z"}
        for n, data in enumerate(events)
    ]
    for start in range(0, len(items), 2000):
        response = httpx.post(
            f"{receiver.url}/1/batch/{dataset}",
            json=items[start : start + 2000],
            headers={"X-Honeycomb-Team": API_KEY},
        )
        assert response.status_code == 200
        assert {answer["status"] for answer in response.json()} == {202}


def drawn_span_ids(page: str) -> list[str]:
    return re.findall(r"class='span-bar[^']*' data-span-id='([^']*)'", page)


def drawn_names(page: str) -> list[tuple[str, str]]:
    """Each row's indentation (pixels) and name, in the order drawn."""
    return re.findall(
        r"<span class=name style='padding-left:(\d+)px'[^>]*>"
        r".*?<span class='op[^']*'[^>]*>([^<]*)<",
        page,
    )


def test_any_stored_value_renders(receiver):
    nested: object = []
    for _ in range(800):
        nested = [nested]
    post_spans(
        receiver,
        "odd",
        [
            {
                "trace.trace_id": "odd",
                "trace.span_id": "root",
                "name": "root",
                "duration_ms": 1e303,
            },
            {
                "trace.trace_id": "odd",
                "trace.span_id": "neg",
                "trace.parent_id": "root",
                "duration_ms": -5,
                "name": {"a": "dict"},
            },
            {
                "trace.trace_id": "odd",
                "trace.span_id": "str",
                "trace.parent_id": "root",
                "duration_ms": "12 ms",
                "name": ["a", "list"],
                "nested": nested,
            },
            {
                "trace.trace_id": "odd",
                "trace.span_id": "big",
                "trace.parent_id": "gone",
                "duration_ms": 10**300,
                "name": 42,
            },
            {
                "trace.trace_id": "odd",
                "trace.span_id": 7,
                "trace.parent_id": {"x": 1},
                "duration_ms": True,
            },
            {
                "trace.trace_id": "odd",
                "trace.span_id": "neg",
                "trace.parent_id": "neg",
                "name": "same id as another, its own parent",
                "error": "yes",
            },
            {
                "trace.trace_id": "odd",
                "trace.parent_id": "root",
                "name": 3,
                "meta.annotation_type": "span_event",
            },
            {
                "trace.trace_id": "odd",
                "trace.parent_id": "str",
                "body": {"b": 1},
                "meta.signal_type": "log",
            },
            {"trace.trace_id": 12, "trace.span_id": "x", "name": "a trace id that is a number"},
        ],
    )
    page = httpx.get(f"{receiver.url}/trace/odd")
    assert page.status_code == 200
    assert sorted(drawn_span_ids(page.text)) == ["", "big", "neg", "neg", "root", "str"]
    assert "1e+303 ms" in page.text
    assert "{&quot;a&quot;:&quot;dict&quot;}" in page.text  # a name that is not a string
    assert page.text.count("class='mark event'") == 1
    assert page.text.count("class='mark log'") == 1
    index = httpx.get(f"{receiver.url}/")
    assert index.status_code == 200
    assert "/trace/odd" in index.text


def test_a_parent_chain_of_3000_spans_is_drawn_whole(receiver):
    chain = [{"trace.trace_id": "long", "trace.span_id": "s0", "name": "s0"}]
    chain += [
        {
            "trace.trace_id": "long",
            "trace.span_id": f"s{n}",
            "trace.parent_id": f"s{n - 1}",
            "name": f"s{n}",
        }
        for n in range(1, 3000)
    ]
    post_spans(receiver, "chain", chain)
    page = httpx.get(f"{receiver.url}/trace/long")
    assert page.status_code == 200
    assert drawn_span_ids(page.text) == [f"s{n}" for n in range(3000)]
    indents = {int(px) for px in re.findall(r"class=name style='padding-left:(\d+)px'", page.text)}
    assert max(indents) == 16 * 14  # indentation stops deepening at 16 levels
    assert "title='depth 2999'" in page.text


def test_spans_in_a_parent_cycle_are_drawn(receiver):
    post_spans(
        receiver,
        "cycle",
        [
            {"trace.trace_id": "loop", "trace.span_id": "root", "name": "root"},
            {"trace.trace_id": "loop", "trace.span_id": "a", "trace.parent_id": "c"},
            {"trace.trace_id": "loop", "trace.span_id": "b", "trace.parent_id": "a"},
            {"trace.trace_id": "loop", "trace.span_id": "c", "trace.parent_id": "b"},
            {"trace.trace_id": "loop", "trace.span_id": "self", "trace.parent_id": "self"},
        ],
    )
    page = httpx.get(f"{receiver.url}/trace/loop").text
    # The earliest span of the cycle is drawn as a root, the rest of it below.
    assert drawn_span_ids(page) == ["root", "a", "b", "c", "self"]
    names = re.findall(r"class=name style='padding-left:(\d+)px'", page)
    assert names == ["0", "0", "14", "28", "0"]


def test_a_trace_page_draws_at_most_10000_spans(receiver):
    spans = [{"trace.trace_id": "huge", "trace.span_id": "root", "name": "import"}]
    spans += [
        {"trace.trace_id": "huge", "trace.span_id": f"s{n}", "trace.parent_id": "root"}
        for n in range(1, 12_500)
    ]
    spans += [
        {"trace.trace_id": "huge", "trace.parent_id": "root", "meta.annotation_type": "span_event"}
    ]
    post_spans(receiver, "huge", spans)
    page = httpx.get(f"{receiver.url}/trace/huge").text
    assert len(drawn_span_ids(page)) == 10_000
    assert "12500 spans" in page
    assert "2500 more spans are not drawn: this page draws the first 10000 by start time" in page


def test_the_trace_list_pages_newest_first_with_a_cursor(receiver):
    from honeycomb_events.receiver._web_index import index_page

    roots = [
        {"trace.trace_id": f"t{n:03}", "trace.span_id": "r", "name": f"root {n:03}"}
        for n in range(120)
    ]
    post_spans(receiver, "many", roots)
    # Ten more roots at one and the same time: the cursor still splits them without a loss.
    response = httpx.post(
        f"{receiver.url}/1/batch/many",
        json=[
            {
                "data": {"trace.trace_id": f"same{n}", "trace.span_id": "r", "name": f"same {n}"},
                "time": "2024-05-01T11:00:00Z",
            }
            for n in range(10)
        ],
        headers={"X-Honeycomb-Team": API_KEY},
    )
    assert response.status_code == 200
    seen: list[str] = []
    before = None
    pages = 0
    while pages < 10:
        query = {} if before is None else {"before": before}
        page = httpx.get(f"{receiver.url}/", params=query).text
        pages += 1
        seen += re.findall(r"href='/trace/([^']+)'", page)
        older = re.search(r"href='/\?before=([^']+)'", page)
        if older is None:
            break
        before = older.group(1)
    assert pages == 3
    assert seen[:3] == ["t119", "t118", "t117"]
    assert seen[:120] == [f"t{n:03}" for n in reversed(range(120))]
    assert sorted(seen[120:]) == [f"same{n}" for n in range(10)]
    assert "no older traces" in index_page(receiver.store, before="0:0")
    assert ">many</a></td><td>130</td>" in index_page(receiver.store, before="not a cursor")


def test_the_trace_list_counts_spans_up_to_a_cap(receiver, monkeypatch):
    from honeycomb_events.receiver import _trace_queries, _web_index

    monkeypatch.setattr(_trace_queries, "LISTED_SPAN_COUNT_CAP", 3)
    monkeypatch.setattr(_web_index, "LISTED_SPAN_COUNT_CAP", 3)
    spans = [{"trace.trace_id": "wide", "trace.span_id": "r", "name": "wide root"}]
    spans += [
        {"trace.trace_id": "wide", "trace.span_id": f"c{n}", "trace.parent_id": "r"}
        for n in range(4)
    ]
    post_spans(receiver, "wide", spans)
    page = httpx.get(f"{receiver.url}/").text
    assert "<td>3+ spans</td>" in page
    assert "5 spans" in httpx.get(f"{receiver.url}/trace/wide").text


def test_a_trace_of_one_span_says_one_span(receiver):
    # The header said "1 spans" (issue 19).
    provider = TracerProvider(resource=Resource.create({"service.name": "single"}))
    provider.add_span_processor(
        SimpleSpanProcessor(
            HoneycombEventsExporter(api_key=API_KEY, endpoint=receiver.url, retry=FAST_RETRY)
        )
    )
    with provider.get_tracer("t").start_as_current_span("alone") as span:
        trace_id = format(span.get_span_context().trace_id, "032x")
    provider.shutdown()
    page = httpx.get(f"{receiver.url}/trace/{trace_id}").text
    assert "<p>1 span, " in page
    assert "1 spans" not in page
