"""The inline style and script of the HTML lint report (:mod:`evalrefine.render.html_report`).

Kept apart so the page builder stays readable. The page's Content-Security-Policy allows exactly
these two texts by their SHA-256, so any edit here is picked up by the hash automatically. The
script reads only escaped ``data-`` attributes and writes only text and attributes it owns
(never ``innerHTML``), and stays ASCII so its hash cannot depend on an encoding.
"""

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em;color:#1b1b1b;background:#fff}
h1{font-size:1.4em;margin:0 0 .3em}h2{font-size:1.1em;margin:1.4em 0 .4em}
.meta{color:#555}.meta strong{color:#1b1b1b}
table{border-collapse:collapse;width:100%}
th,td{padding:.3em .5em;text-align:left;vertical-align:top;border-bottom:1px solid #e4e4e4}
th{background:#f4f4f4;cursor:pointer;user-select:none;white-space:nowrap;position:sticky;top:0}
th[aria-sort=ascending]::after{content:" \\25b2"}th[aria-sort=descending]::after{content:" \\25bc"}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.row{cursor:pointer}tr.row:hover{background:#f7f7fb}
td.where{font-family:ui-monospace,monospace;font-size:.9em;min-width:16em;overflow-wrap:anywhere}
td.preview{color:#444;max-width:40em;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.v-new{color:#b00020;font-weight:600}.v-known{color:#a15c00}.v-ok{color:#1e7a34}
button.toggle{border:0;background:none;cursor:pointer;font-size:1em;padding:0 .3em}
tr.detail>td{background:#fbfbfd;padding:.6em 1em 1em 2.2em}
.turn{white-space:pre-wrap;word-break:break-word;font-family:ui-monospace,monospace;font-size:.9em;
border:1px solid #e4e4e4;background:#fff;padding:.5em;margin:.2em 0 .6em}
.role{font-size:.8em;color:#777;text-transform:uppercase}
mark{color:inherit;border-radius:2px;background:none}
.r1{background:#ffe9e9}.r2{background:#ffd0d0}.r3{background:#ffb3b3}.r4{background:#ff9494}.r5{background:#ff7070}
.b1{background:#eaf0ff}.b2{background:#d3e0ff}.b3{background:#b8ccff}.b4{background:#9bb6ff}.b5{background:#7d9eff}
.trust{color:#1e7a34}.distrust{color:#b00020}.note{color:#666;font-size:.9em}
.controls{margin:.6em 0}.controls input[type=search]{width:22em}
svg text{font:11px system-ui,sans-serif;fill:#444}
ul.problems li{font-family:ui-monospace,monospace;font-size:.9em}
"""

JS = r"""
(function () {
  var table = document.getElementById("prompts");
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  function key(body, name, numeric) {
    var v = body.getAttribute("data-" + name) || "";
    if (!numeric) { return v.toLowerCase(); }
    return v === "" ? -Infinity : parseFloat(v);
  }
  function sortBy(th) {
    var name = th.getAttribute("data-key"), numeric = th.getAttribute("data-type") === "num";
    var asc = th.getAttribute("aria-sort") !== "ascending";
    heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    var bodies = Array.prototype.slice.call(table.tBodies);
    bodies.sort(function (a, b) {
      var x = key(a, name, numeric), y = key(b, name, numeric);
      var c = x < y ? -1 : (x > y ? 1 : 0);
      if (!asc) { c = -c; }
      return c || key(a, "rank", true) - key(b, "rank", true);
    });
    bodies.forEach(function (b) { table.appendChild(b); });
  }
  heads.forEach(function (th) {
    th.tabIndex = 0;
    th.addEventListener("click", function () { sortBy(th); });
    th.addEventListener("keydown", function (ev) { if (ev.key === "Enter") { sortBy(th); } });
  });
  function toggle(body, open) {
    var detail = body.querySelector("tr.detail"), button = body.querySelector("button.toggle");
    var show = open === undefined ? detail.hidden : open;
    detail.hidden = !show;
    button.setAttribute("aria-expanded", String(show));
    button.textContent = show ? "\u25be" : "\u25b8";
  }
  table.addEventListener("click", function (ev) {
    var row = ev.target.closest("tr.row");
    if (row) { toggle(row.parentNode); }
  });
  var search = document.getElementById("filter"), only = document.getElementById("findings-only");
  function filter() {
    var q = search.value.toLowerCase();
    Array.prototype.forEach.call(table.tBodies, function (b) {
      var text = (b.getAttribute("data-where") + " " + b.getAttribute("data-prompt")).toLowerCase();
      b.hidden = (q !== "" && text.indexOf(q) < 0) || (only.checked && b.getAttribute("data-finding") !== "1");
    });
  }
  search.addEventListener("input", filter);
  only.addEventListener("change", filter);
  function openHash() {
    var body = document.getElementById(location.hash.slice(1));
    if (body && body.classList.contains("prompt")) { toggle(body, true); body.scrollIntoView(); }
  }
  window.addEventListener("hashchange", openHash);
  openHash();
})();
"""
