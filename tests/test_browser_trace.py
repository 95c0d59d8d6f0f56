"""The trace view and the front page in headless Chromium (issue 19): what a person sees, and
what clicking, hovering and searching do. Screenshots go to build/screenshots/ (`browser.py`):
trace-view, trace-view-details, trace-view-collapsed, trace-view-1000-spans, index,
index-older, index-search."""

from __future__ import annotations

import time

from .browser import screenshot
from .test_web import post_spans
from .test_web_index import shop_roots
from .test_web_trace import thousand_spans
from .web_traces import FRONTEND, PAYMENTS, send_shop_trace


def visible_names(page) -> list[str]:
    """The names of the span rows a person can see, top to bottom."""
    return page.locator(".row .op").evaluate_all(
        "ops => ops.filter(op => op.checkVisibility()).map(op => op.textContent)"
    )


def row(page, name: str):
    """The row of the span called `name`."""
    return page.locator(".row", has=page.locator(f".op:text-is('{name}')"))


def test_the_trace_view_shows_services_errors_stack_traces_and_mark_texts(receiver, page):
    shop = send_shop_trace(receiver)
    page.goto(f"{receiver.url}/trace/{shop.trace_id}")
    assert visible_names(page) == [
        "GET /checkout",
        "SELECT cart",
        "GET",
        "POST",
        "POST /v1/charges",
        "charge card",
    ]
    assert row(page, "SELECT cart").locator(".svc").inner_text().strip() == FRONTEND
    assert row(page, "charge card").locator(".svc").inner_text().strip() == PAYMENTS
    assert page.locator(".legend .service").all_inner_texts() == [
        f"{FRONTEND} 4 spans",
        f"{PAYMENTS} 2 spans",
    ]
    # The failed span's message, without a click.
    message = row(page, "charge card").locator(".why")
    assert message.is_visible()
    assert message.inner_text() == "RuntimeError: card declined by the issuer"
    assert row(page, "POST").locator(".url").inner_text() == (
        "POST http://payments.local:8080/v1/charges"
    )
    # Hovering over the log mark shows its text.
    tip = row(page, "charge card").locator(".mark.log .tip")
    assert not tip.is_visible()
    row(page, "charge card").locator(".mark.log").hover()
    assert tip.is_visible()
    assert "card declined: retrying is pointless" in tip.inner_text()
    assert tip.inner_text().startswith("log (warn) at +")
    screenshot(page, "trace-view")
    # A click on the row opens its fields, with the stack trace line by line.
    stack = row(page, "charge card").locator(".stack")
    assert not stack.is_visible()
    row(page, "charge card").locator(".op").click()
    assert stack.is_visible()
    assert stack.inner_text().splitlines() == shop.traceback_lines
    line_height = stack.evaluate("pre => parseFloat(getComputedStyle(pre).lineHeight) || 14")
    assert stack.bounding_box()["height"] >= line_height * len(shop.traceback_lines)
    screenshot(page, "trace-view-details")


def test_folding_a_span_hides_the_spans_below_it(receiver, page):
    shop = send_shop_trace(receiver)
    page.goto(f"{receiver.url}/trace/{shop.trace_id}")
    every = visible_names(page)
    row(page, "POST").locator(".fold").click()
    assert visible_names(page) == ["GET /checkout", "SELECT cart", "GET", "POST"]
    assert row(page, "POST").locator(".folded").inner_text() == "2 spans hidden"
    assert not row(page, "POST").locator(".fields").is_visible()  # folding opened nothing
    row(page, "GET /checkout").locator(".fold").click()
    assert visible_names(page) == ["GET /checkout"]
    screenshot(page, "trace-view-collapsed")
    # Unfolding the root shows its children; POST stays folded.
    row(page, "GET /checkout").locator(".fold").click()
    assert visible_names(page) == ["GET /checkout", "SELECT cart", "GET", "POST"]
    row(page, "POST").locator(".fold").click()
    assert visible_names(page) == every
    page.click("text=collapse all")
    assert visible_names(page) == ["GET /checkout"]
    page.click("text=expand all")
    assert visible_names(page) == every


def test_a_trace_of_1000_spans_shows_every_row(receiver, page):
    post_spans(receiver, "reports", thousand_spans("wide"))
    started = time.perf_counter()
    page.goto(f"{receiver.url}/trace/wide")
    loaded = time.perf_counter() - started
    assert len(visible_names(page)) == 1000
    bars = page.locator(".span-bar").evaluate_all(
        "bars => bars.filter(bar => bar.getBoundingClientRect().width > 0).length"
    )
    assert bars == 1000
    assert page.locator(".legend .service").count() == 3
    # Rows keep their height: the page is long, not crushed.
    assert page.evaluate("document.documentElement.scrollHeight") > 1000 * 18
    row(page, "GET /report").locator(".fold").click()
    assert visible_names(page) == ["GET /report"]
    row(page, "GET /report").locator(".fold").click()
    print(f"Chromium loaded the 1000-span trace in {loaded * 1000:.0f} ms")
    screenshot(page, "trace-view-1000-spans")


def test_the_index_lists_pages_and_searches_traces(receiver, page):
    roots = shop_roots(120)
    post_spans(receiver, "Shop", roots)
    send_shop_trace(receiver)
    page.goto(f"{receiver.url}/")
    trace_rows = page.locator("tr.trace")
    assert trace_rows.count() == 50
    assert trace_rows.first.locator("a").first.inner_text() == "GET /checkout"
    assert "error" in trace_rows.first.inner_text()
    assert page.locator("tr.dataset").all_inner_texts()[0].split("\t")[:2] == ["Shop", "120"]
    screenshot(page, "index")
    first = trace_rows.all_inner_texts()
    page.click("text=older traces")
    assert trace_rows.count() == 50
    assert trace_rows.all_inner_texts() != first
    screenshot(page, "index-older")
    page.click("text=newer traces")
    assert trace_rows.all_inner_texts() == first
    # A search narrows the list.
    page.fill("input[name=service]", "backend")
    page.fill("input[name=name]", "cart")
    page.check("input[name=errors]")
    page.click("button[type=submit]")
    found = trace_rows.all_inner_texts()
    expected = [
        root
        for root in roots
        if root["service.name"] == "backend" and root["name"] == "GET /cart" and root.get("error")
    ]
    assert len(found) == len(expected) > 0
    assert all("GET /cart\tbackend" in text and "error" in text for text in found)
    assert page.input_value("input[name=service]") == "backend"
    screenshot(page, "index-search")
    # A dataset's link lists its traces.
    page.goto(f"{receiver.url}/")
    page.locator("tr.dataset a", has_text=PAYMENTS).click()
    assert trace_rows.count() == 0
    page.locator("tr.dataset a", has_text=FRONTEND).click()
    assert trace_rows.count() == 1
