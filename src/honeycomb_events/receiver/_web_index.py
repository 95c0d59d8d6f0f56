"""The receiver's front page at ``/``: the datasets with their event counts, and the traces by
their root spans, newest first, a page at a time, narrowed by a search (trace id, service,
root span name, dataset, errors only).

Paging is by keyset cursors (`Cursor`): "older traces" carries the time and id of the last
root listed as ``?before=``, "newer traces" those of the first as ``?after=``; every link keeps
the search. Whatever is typed into the search, or stored, is escaped where it is shown.
"""

from __future__ import annotations

import html
from typing import Final
from urllib.parse import quote, urlencode

from ._store import EventStore
from ._trace_queries import (
    LISTED_SPAN_COUNT_CAP,
    NO_SEARCH,
    Cursor,
    TraceList,
    TraceSearch,
    TraceSummary,
)
from ._web_page import count_text, ms_text, page, swatch, time_text

TRACES_PER_PAGE: Final = 50
"""Root spans listed per page of ``/``."""

_STYLE: Final = """
.search { display: flex; flex-wrap: wrap; gap: 8px 14px; align-items: end; margin: 8px 0 14px;
  padding: 10px 12px; background: #f5f5f7; border-radius: 6px; }
.search label { display: flex; flex-direction: column; font-size: 12px; color: #555; }
.search label.check { flex-direction: row; align-items: center; gap: 4px; font-size: 14px;
  color: inherit; }
.search input[type=text] { font: inherit; padding: 3px 6px; width: 190px; }
.search button { font: inherit; padding: 3px 12px; }
.paging a { margin-right: 14px; }
"""


def index_page(
    store: EventStore,
    search: TraceSearch = NO_SEARCH,
    *,
    before: str | None = None,
    after: str | None = None,
) -> str:
    """The front page: the datasets, and the root spans matching `search`, `TRACES_PER_PAGE`
    at a time: the newest, those older than the cursor `before`, or those newer than the
    cursor `after` (the texts the page's links carry); text that is not a cursor is ignored."""
    older_than, newer_than = Cursor.parse(before), Cursor.parse(after)
    listing = store.recent_traces(
        search, before=older_than, after=newer_than, limit=TRACES_PER_PAGE
    )
    datasets = store.dataset_counts()
    if listing.traces:
        listed = "".join(_trace_row(summary) for summary in listing.traces)
    else:
        listed = f"<tr><td colspan=7>{_nothing_listed(search, older_than, newer_than)}</td></tr>"
    body = (
        "<h1>honeycomb-events local receiver</h1>"
        f"<h2>Datasets</h2>{_datasets_table(datasets)}"
        f"<h2>Traces</h2>{_search_form(search, [name for name, _ in datasets])}"
        "<table class=list><tr><th>root span</th><th>service</th><th>dataset</th><th>start</th>"
        f"<th>spans</th><th>duration</th><th></th></tr>{listed}</table>"
        f"{_paging(search, listing, paged=older_than is not None or newer_than is not None)}"
    )
    return page("honeycomb-events receiver", body, style=_STYLE)


def _link(search: TraceSearch, **cursor: str) -> str:
    """The escaped URL of `/` with `cursor` and the search as the query."""
    query = dict(cursor)
    query.update(
        (key, value)
        for key, value in (
            ("trace_id", search.trace_id),
            ("service", search.service),
            ("name", search.name),
            ("dataset", search.dataset),
            ("errors", "1" if search.errors_only else ""),
        )
        if value
    )
    return html.escape(f"/?{urlencode(query, safe=':')}" if query else "/")


def _datasets_table(datasets: list[tuple[str, int]]) -> str:
    rows = "".join(
        f"<tr class=dataset><td><a href='{_link(TraceSearch(dataset=name))}'>"
        f"{html.escape(name)}</a></td><td>{count}</td>"
        f"<td><a href='/query?{html.escape(urlencode({'dataset': name}))}'>query</a></td></tr>"
        for name, count in datasets
    )
    return (
        "<table class=list><tr><th>dataset</th><th>events</th><th></th></tr>"
        f"{rows or '<tr><td colspan=3>no events yet</td></tr>'}</table>"
    )


def _search_form(search: TraceSearch, datasets: list[str]) -> str:
    def field(name: str, label: str, value: str, options: str = "") -> str:
        listed = f" list={options}" if options else ""
        return (
            f"<label>{label}<input type=text name={name} value='{html.escape(value)}'{listed}>"
            "</label>"
        )

    known = "".join(f"<option value='{html.escape(name)}'>" for name in datasets)
    checked = " checked" if search.errors_only else ""
    return (
        "<form class=search method=get action='/'>"
        f"{field('trace_id', 'trace id', search.trace_id)}"
        f"{field('service', 'service (root span)', search.service)}"
        f"{field('name', 'root span name contains', search.name)}"
        f"{field('dataset', 'dataset', search.dataset, 'known-datasets')}"
        f"<label class=check><input type=checkbox name=errors value=1{checked}>errors only</label>"
        "<button type=submit>search</button><a href='/'>clear</a>"
        f"<datalist id=known-datasets>{known}</datalist></form>"
    )


def _trace_row(summary: TraceSummary) -> str:
    name = "(unnamed root span)" if summary.name is None else summary.name
    spans: int | str = summary.spans
    if summary.spans > LISTED_SPAN_COUNT_CAP:
        spans = f"{LISTED_SPAN_COUNT_CAP}+"
    service = summary.service or ""  # text already: SQLite's substr of the JSON value
    return (
        "<tr class=trace>"
        f"<td><a href='/trace/{html.escape(quote(summary.trace_id, safe=''))}'>"
        f"{html.escape(name)}</a></td>"
        f"<td>{swatch(service) + html.escape(service) if service else ''}</td>"
        f"<td><a href='{_link(TraceSearch(dataset=summary.dataset))}'>"
        f"{html.escape(summary.dataset)}</a></td><td>{time_text(summary.time_ns)}</td>"
        f"<td>{count_text(spans, 'span')}</td><td>{ms_text(summary.duration_ms)}</td>"
        f"<td>{'<span class=error>error</span>' if summary.failed else ''}</td></tr>"
    )


def _nothing_listed(search: TraceSearch, before: Cursor | None, after: Cursor | None) -> str:
    if after is not None:
        return "no newer traces"
    if before is not None:
        return "no older traces"
    if search == NO_SEARCH:
        return "no traces yet"
    if search.trace_id:
        target = html.escape(quote(search.trace_id, safe=""))
        return (
            "no root span of this trace matches: "
            f"<a href='/trace/{target}'>open trace {html.escape(search.trace_id)}</a>"
        )
    return "no trace matches the search"


def _paging(search: TraceSearch, listing: TraceList, *, paged: bool) -> str:
    links = []
    if paged:
        links.append(f"<a class=newest href='{_link(search)}'>newest traces</a>")
    if listing.newer is not None:
        links.append(
            f"<a class=newer href='{_link(search, after=listing.newer.text)}'>"
            "\u2039 newer traces</a>"
        )
    if listing.older is not None:
        links.append(
            f"<a class=older href='{_link(search, before=listing.older.text)}'>"
            "older traces \u203a</a>"
        )
    return f"<p class=paging>{''.join(links)}</p>"
