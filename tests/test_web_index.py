"""The front page as HTML (issue 19): paging both ways, the search (trace id, service, root
span name, dataset, errors only) and its links, dataset links, span counts in words."""

from __future__ import annotations

import html
import re

import httpx
import pytest

from honeycomb_events.receiver import Receiver

from .conftest import API_KEY
from .test_web import post_spans


def listed(page: str) -> list[str]:
    """The trace ids the page lists, in order."""
    return re.findall(r"<tr class=trace><td><a href='/trace/([^']+)'>", page)


def link(page: str, kind: str) -> str | None:
    """The target of the page's "older", "newer" or "newest" link, as a browser reads it."""
    found = re.search(rf"<a class={kind} href='([^']+)'>", page)
    return None if found is None else html.unescape(found.group(1))


def get(receiver: Receiver, target: str = "/", **params: str) -> str:
    response = httpx.get(f"{receiver.url}{target}", params=params or None)
    assert response.status_code == 200
    return response.text


def shop_roots(count: int) -> list[dict[str, object]]:
    """`count` root spans of three services, named after four routes; every fifth failed."""
    services = ("frontend", "backend", "payments")
    routes = ("GET /checkout", "GET /cart", "POST /pay_now", "GET /100%")
    roots: list[dict[str, object]] = []
    for n in range(count):
        root: dict[str, object] = {
            "trace.trace_id": f"t{n:03}",
            "trace.span_id": "r",
            "name": routes[n % 4],
            "service.name": services[n % 3],
        }
        if n % 5 == 0:
            root["error"] = True
        roots.append(root)
    return roots


@pytest.fixture
def shop(receiver: Receiver) -> list[dict[str, object]]:
    roots = shop_roots(120)
    post_spans(receiver, "Shop", roots)
    return roots


def ids(roots: list[dict[str, object]]) -> list[str]:
    """Trace ids newest first (the roots were stored a millisecond apart, in order)."""
    return [str(root["trace.trace_id"]) for root in reversed(roots)]


def test_paging_goes_older_and_back_newer(receiver, shop):
    first = get(receiver)
    assert listed(first) == ids(shop)[:50]
    assert link(first, "newer") is None
    assert link(first, "newest") is None
    second = get(receiver, link(first, "older"))
    assert listed(second) == ids(shop)[50:100]
    third = get(receiver, link(second, "older"))
    assert listed(third) == ids(shop)[100:]
    assert link(third, "older") is None
    assert link(third, "newest") == "/"
    back = get(receiver, link(third, "newer"))
    assert listed(back) == listed(second)
    assert listed(get(receiver, link(back, "newer"))) == listed(first)
    assert listed(get(receiver, link(back, "older"))) == listed(third)


def test_newer_pages_after_new_traces_arrive_continue_from_where_they_were(receiver, shop):
    second = get(receiver, link(get(receiver), "older"))
    post_spans(receiver, "Shop", [{"trace.trace_id": "new", "trace.span_id": "r"}])
    # Stored later but with an older time: the list is by time, and a page keeps its place.
    newer = get(receiver, link(second, "newer"))
    assert listed(newer) == ids(shop)[:50]
    assert listed(get(receiver))[0] == "t119"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"trace_id": "t007"}, lambda n, root: root["trace.trace_id"] == "t007"),
        ({"service": "backend"}, lambda n, root: root["service.name"] == "backend"),
        ({"name": "checkout"}, lambda n, root: "checkout" in str(root["name"])),
        ({"name": "CART"}, lambda n, root: "cart" in str(root["name"])),  # any casing
        ({"name": "pay_"}, lambda n, root: "pay_" in str(root["name"])),  # "_" is a character
        ({"name": "100%"}, lambda n, root: "100%" in str(root["name"])),  # "%" too
        ({"errors": "1"}, lambda n, root: root.get("error") is True),
        (
            {"service": "frontend", "errors": "1", "name": "GET"},
            lambda n, root: (
                root["service.name"] == "frontend"
                and root.get("error") is True
                and str(root["name"]).startswith("GET")
            ),
        ),
        ({"dataset": "shop"}, lambda n, root: True),  # a dataset in any casing
        ({"dataset": "other"}, lambda n, root: False),
        ({"service": "nobody"}, lambda n, root: False),
    ],
    ids=[
        "trace id",
        "service",
        "name",
        "name in other casing",
        "name with _",
        "name with %",
        "errors only",
        "service, errors, name",
        "dataset",
        "other dataset",
        "unknown service",
    ],
)
def test_a_search_narrows_the_list(receiver, shop, params, expected):
    matching = [root for n, root in enumerate(shop) if expected(n, root)]
    seen: list[str] = []
    page = get(receiver, **params)
    for _ in range(5):
        seen += listed(page)
        older = link(page, "older")
        if older is None:
            break
        # The link keeps the search.
        assert all(f"{key}={value}" in older.replace("%25", "%") for key, value in params.items())
        page = get(receiver, older)
    assert seen == ids(matching)
    if not matching:
        assert "no trace matches the search" in page


def test_the_search_form_shows_the_search_escaped(receiver, shop):
    hostile = "<script>alert('x')</script>"
    page = get(receiver, service=hostile, name="a'b\"c", errors="1")
    assert "<script>alert" not in page
    assert f"name=service value='{html.escape(hostile)}'" in page
    assert f"name=name value='{html.escape(chr(97) + chr(39) + 'b' + chr(34) + 'c')}'" in page
    assert "name=errors value=1 checked" in page
    assert listed(page) == []


def test_a_trace_id_without_a_listed_root_links_to_the_trace(receiver):
    post_spans(
        receiver,
        "orphans",
        [{"trace.trace_id": "no-root", "trace.span_id": "c", "trace.parent_id": "gone"}],
    )
    page = get(receiver, trace_id="no-root")
    assert listed(page) == []
    assert "<a href='/trace/no-root'>open trace no-root</a>" in page
    assert httpx.get(f"{receiver.url}/trace/no-root").status_code == 200


def test_dataset_names_link_to_their_traces_and_to_their_query_page(receiver):
    name = "Checkout & Co's"
    post_spans(receiver, name, [{"trace.trace_id": "d1", "trace.span_id": "r", "name": "x"}])
    post_spans(receiver, "other", [{"trace.trace_id": "d2", "trace.span_id": "r", "name": "y"}])
    page = get(receiver)
    rows = re.findall(r"<tr class=dataset>(.*?)</tr>", page)
    assert len(rows) == 2
    traces, query = (html.unescape(target) for target in re.findall(r"href='([^']+)'", rows[0]))
    assert traces == "/?dataset=Checkout+%26+Co%27s"
    assert query == "/query?dataset=Checkout+%26+Co%27s"
    assert f">{html.escape(name)}</a>" in rows[0]
    assert listed(get(receiver, traces)) == ["d1"]
    # The dataset of each listed trace links to the same list.
    assert f"<a href='{html.escape(traces)}'>{html.escape(name)}</a>" in page


def test_span_counts_are_words_one_span_or_n_spans(receiver):
    post_spans(
        receiver,
        "counts",
        [
            {"trace.trace_id": "one", "trace.span_id": "r", "name": "alone"},
            {"trace.trace_id": "four", "trace.span_id": "r", "name": "with children"},
            *(
                {"trace.trace_id": "four", "trace.span_id": f"c{n}", "trace.parent_id": "r"}
                for n in range(3)
            ),
        ],
    )
    cells = dict(
        re.findall(
            r"<tr class=trace><td><a href='/trace/([^']+)'>.*?<td>(\d+ spans?)</td>", get(receiver)
        )
    )
    assert cells == {"one": "1 span", "four": "4 spans"}
    assert "1 spans" not in get(receiver)


def test_the_list_shows_each_roots_service_with_its_colour(receiver):
    from honeycomb_events.receiver._web_page import service_colour

    post_spans(
        receiver,
        "svc",
        [
            {"trace.trace_id": "s1", "trace.span_id": "r", "service.name": "api"},
            {"trace.trace_id": "s2", "trace.span_id": "r", "service.name": 42},
            {"trace.trace_id": "s3", "trace.span_id": "r"},
        ],
    )
    rows = dict(
        re.findall(
            r"<tr class=trace><td><a href='/trace/([^']+)'>[^<]*</a></td><td>(.*?)</td>",
            get(receiver),
        )
    )
    assert rows == {
        "s1": f"<span class=swatch style='--c:{service_colour('api')}'></span>api",
        "s2": f"<span class=swatch style='--c:{service_colour('42')}'></span>42",
        "s3": "",
    }


def test_cursors_that_are_not_cursors_give_the_newest_page(receiver, shop):
    for params in ({"before": "x"}, {"after": "1:"}, {"before": ":"}, {"after": "9" * 40}):
        response = httpx.get(f"{receiver.url}/", params=params)
        assert response.status_code == 200
    assert listed(get(receiver, before="nonsense")) == ids(shop)[:50]
    # Numbers past SQLite's 64-bit integers are no cursor either (they were a 500).
    for huge in (f"{2**70}:1", f"1:{2**63}", f"{-(2**63) - 1}:1"):
        assert listed(get(receiver, after=huge)) == ids(shop)[:50]
        assert listed(get(receiver, before=huge)) == ids(shop)[:50]
    assert API_KEY not in get(receiver)


def test_only_the_dataset_field_suggests_dataset_names(receiver):
    post_spans(receiver, "shop", [{"trace.trace_id": "t", "trace.span_id": "r", "name": "x"}])
    page = httpx.get(f"{receiver.url}/").text
    suggesting = re.findall(r"<input type=text name=(\w+) value='[^']*' list=known-datasets>", page)
    assert suggesting == ["dataset"]
