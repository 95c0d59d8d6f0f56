"""The trace view's style and script, shipped inline in the page (no network, no build step).

The script does one thing: collapsing. Each span row carries its depth (``data-depth``); the
spans below a row are the rows right after it that are deeper, so folding a row hides them, and
unfolding it shows them again except under rows that are themselves folded. Without the script
the page still shows every span, and a click on a span still opens its fields (``<details>``).
"""

from __future__ import annotations

from typing import Final

TRACE_STYLE: Final = """
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; margin: 6px 0; font-size: 13px; }
.legend b { font-weight: 600; margin-right: 4px; }
.key { display: inline-block; width: 4px; height: 14px; margin-right: 4px;
  vertical-align: middle; background: #111; }
.key.log { background: #ff9800; } .key.exception { background: #c62828; }
.key.failed { width: 14px; height: 8px; background: #bbb; box-shadow: 0 0 0 2px #c62828; }
.controls button { font: inherit; font-size: 12px; margin-right: 6px; }
.axis, .row > summary { display: grid; column-gap: 8px; align-items: center;
  grid-template-columns: minmax(340px, 34%) 76px 1fr 84px; }
.axis { position: sticky; top: 0; z-index: 3; background: #fff; color: #777; font-size: 12px;
  border-bottom: 1px solid #ddd; padding: 4px 0; }
.axis .scale { display: flex; justify-content: space-between; }
.row > summary { cursor: pointer; list-style: none; padding: 2px 0;
  border-bottom: 1px solid #f2f2f5; }
.row > summary::-webkit-details-marker { display: none; }
.row > summary:hover { background: #f5f8ff; }
.name { min-width: 0; }
.line { display: flex; align-items: center; gap: 6px; white-space: nowrap; min-width: 0; }
.line > span { overflow: hidden; text-overflow: ellipsis; }
.sub { padding-left: 24px; }
.svc { flex: none; max-width: 40%; color: #3a3a3c; }
.op.error::before { content: "\\26a0  "; }
.kind { flex: none; font-size: 11px; color: #555; border: 1px solid #ccc; border-radius: 3px;
  padding: 0 3px; }
.url { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; color: #3a3a3c; }
.why { color: #c62828; font-size: 12px; }
.fold, .leaf { flex: none; width: 18px; }
.fold { height: 18px; padding: 0; border: 0; background: none; cursor: pointer; color: #555; }
.folded { flex: none; font-size: 11px; color: #333; background: #e8ecfa; border-radius: 8px;
  padding: 0 6px; }
.row:not(.collapsed) .folded { display: none; }
.offset, .duration { text-align: right; color: #555; font-size: 12px;
  font-variant-numeric: tabular-nums; }
.track { position: relative; height: 18px; background: #f5f5f7
  linear-gradient(to right, #e2e2e7 1px, transparent 1px) 0 0 / 25% 100%; }
.span-bar { position: absolute; top: 3px; height: 12px; border-radius: 2px; min-width: 2px;
  background: var(--c); }
.span-bar.failed { box-shadow: 0 0 0 2px #c62828; }
.mark { position: absolute; top: 0; width: 3px; height: 18px; margin-left: -1px; z-index: 1;
  background: #111; box-shadow: 0 0 0 1px #fff; }
.mark::before { content: ""; position: absolute; inset: 0 -4px; }
.mark.log { background: #ff9800; } .mark.exception { background: #c62828; }
.tip { display: none; position: absolute; top: 20px; left: 0; z-index: 5; width: max-content;
  max-width: 420px; padding: 4px 6px; border-radius: 4px; background: #1d1d1f; color: #fff;
  font-size: 12px; white-space: pre-wrap; overflow-wrap: anywhere; }
.mark[data-end] .tip { left: auto; right: 0; }
.mark:hover .tip { display: block; }
.fields { margin: 4px 0 10px 24px; font-size: 12px; }
.fields h3 { font-size: 12px; margin: 8px 0 2px; color: #555; }
.attributes { border-collapse: collapse; }
.attributes td { padding: 1px 8px; border-bottom: 1px solid #f0f0f0; vertical-align: top;
  white-space: pre-wrap; overflow-wrap: anywhere; }
.attributes td:first-child { white-space: nowrap; color: #555; }
.exception { margin: 4px 0; }
.stack { white-space: pre-wrap; overflow-wrap: anywhere; margin: 4px 0; padding: 6px 8px;
  background: #fff5f5; border-left: 3px solid #c62828; font-size: 12px; max-height: 480px;
  overflow: auto; }
"""

TRACE_SCRIPT: Final = """
(function () {
  var rows = document.querySelectorAll('.waterfall > .row');
  function depth(row) { return Number(row.dataset.depth); }
  function show(row) {
    var above = depth(row), cut = row.classList.contains('collapsed') ? above : Infinity;
    for (var r = row.nextElementSibling; r && depth(r) > above; r = r.nextElementSibling) {
      if (depth(r) <= cut) cut = Infinity;
      r.hidden = cut !== Infinity;
      if (cut === Infinity && r.classList.contains('collapsed')) cut = depth(r);
    }
  }
  function fold(row, collapsed) {
    var button = row.querySelector('.fold');
    if (!button) return;
    row.classList.toggle('collapsed', collapsed);
    button.textContent = collapsed ? '\\u25b8' : '\\u25be';
    button.setAttribute('aria-expanded', String(!collapsed));
  }
  document.addEventListener('click', function (event) {
    var button = event.target.closest('.fold');
    if (button) {
      event.preventDefault();
      var row = button.closest('.row');
      fold(row, !row.classList.contains('collapsed'));
      show(row);
      return;
    }
    var every = event.target.closest('[data-fold-all]');
    if (every) {
      var collapse = every.dataset.foldAll === 'collapse';
      rows.forEach(function (row) { fold(row, collapse); });
      rows.forEach(function (row) { if (depth(row) === 0) show(row); });
    }
  });
})();
"""
