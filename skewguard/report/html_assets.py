"""The HTML report's inline assets: its style sheet and the few lines of table sorting
(the Content-Security-Policy allows this script by its hash)."""

from __future__ import annotations

__all__ = ["SORT_SCRIPT", "STYLE"]

SORT_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  var heads = table.tHead ? table.tHead.rows[0].cells : [];
  Array.prototype.forEach.call(heads, function (th, col) {
    th.tabIndex = 0;
    function sort() {
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var asc = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      function key(row) {
        var cell = row.cells[col];
        var v = cell.getAttribute("data-sort");
        return v === null ? cell.textContent.trim() : v;
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b), nx = Number(x), ny = Number(y);
        var r = (x !== "" && y !== "" && !isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
        return asc ? r : -r;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    }
    th.addEventListener("click", sort);
    th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sort(); } });
  });
});
"""

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
  color: #1d2329; background: #f6f7f9; }
main { max-width: 1180px; margin: 0 auto; padding: 0 20px 40px; }
header.verdict { padding: 18px 20px; color: #fff; }
header.verdict h1 { margin: 0 auto; max-width: 1180px; font-size: 26px; }
header.verdict p { margin: 4px auto 0; max-width: 1180px; }
.v-pass { background: #2e7d32; } .v-warn { background: #b26a00; }
.v-retrain { background: #6a3fb5; } .v-block { background: #c62828; }
.v-insufficient_data { background: #546e7a; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff;
  font-size: 12px; font-weight: 600; vertical-align: middle; }
section { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: 12px 18px;
  margin: 16px 0; }
section.feature { border-left: 6px solid #dde1e6; }
section.feature.f-warn { border-left-color: #b26a00; }
section.feature.f-retrain { border-left-color: #6a3fb5; }
section.feature.f-block { border-left-color: #c62828; }
section.feature.f-insufficient_data { border-left-color: #546e7a; }
h2 { font-size: 19px; margin: 4px 0 10px; } h3 { font-size: 16px; margin: 4px 0 8px; }
table { border-collapse: collapse; margin: 6px 0 10px; font-size: 13px; }
th, td { border-bottom: 1px solid #e3e6ea; padding: 3px 8px; text-align: left;
  vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.sortable th { cursor: pointer; user-select: none; background: #eef1f4; }
table.sortable th[aria-sort="ascending"]::after { content: " \\25B2"; }
table.sortable th[aria-sort="descending"]::after { content: " \\25BC"; }
tr.r-pass td.verdict { color: #2e7d32; } tr.r-warn td.verdict { color: #b26a00; }
tr.r-retrain td.verdict { color: #6a3fb5; } tr.r-block td.verdict { color: #c62828; }
tr.r-insufficient_data td.verdict { color: #546e7a; }
td.verdict { font-weight: 600; }
.meta { color: #5b6570; }
.why { margin: 8px auto 0; max-width: 1180px; } .why p { margin: 0; }
.why ul { margin: 2px 0 0; padding-left: 20px; }
.plots { display: flex; flex-wrap: wrap; gap: 10px; align-items: flex-start; }
figure { margin: 0; display: grid; grid-template-columns: auto auto; gap: 4px 14px;
  align-items: start; }
figcaption { grid-column: 1 / -1; font-weight: 600; font-size: 13px; }
svg.plot { background: #fff; font-size: 11px; }
svg.plot .grid { stroke: #e6e8eb; } svg.plot .axis { stroke: #7a838c; }
svg.plot .openbin { fill: #f1f2f4; }
svg.plot .ytick { text-anchor: end; fill: #5b6570; }
svg.plot .xtick { text-anchor: end; fill: #5b6570; }
svg.plot .xtick-h { text-anchor: middle; fill: #5b6570; }
svg.plot .binlabel { text-anchor: middle; fill: #5b6570; font-style: italic; }
svg.plot .binlabel-l { fill: #5b6570; font-style: italic; }
svg.plot .catlabel { text-anchor: end; fill: #1d2329; }
svg.plot .delta { fill: #5b6570; } svg.plot .legend { fill: #1d2329; }
pre { background: #f3f4f6; padding: 8px; overflow: auto; max-height: 420px; font-size: 12px; }
code { font-size: 12px; }
details > summary { cursor: pointer; }
.causes { flex: 1 1 100%; background: #fbf7ee; border: 1px solid #eadfc4;
  border-radius: 6px; padding: 6px 12px; }
.causes h4 { margin: 2px 0 4px; } .causes ul { margin: 0; padding-left: 18px; }
.causes li.c-block b { color: #c62828; } .causes li.c-retrain b { color: #6a3fb5; }
.causes li.c-warn b { color: #b26a00; }
"""
