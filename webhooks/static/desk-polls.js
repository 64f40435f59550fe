// The desk's open vote: its turnout, counts so far and who has not voted, refreshed every 15 seconds
// from /desk/polls/<id>/live (a secret ballot's counts stay hidden until it closes). Closed: reloaded.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live) { return; }
  var url = live.getAttribute("data-live");
  function cell(tag, text, numeric) {
    var element = document.createElement(tag);
    if (tag === "th") { element.setAttribute("scope", "row"); }
    if (numeric) { element.className = "num"; }
    element.textContent = text;
    return element;
  }
  function show(found) {
    if (found.status !== "open") { window.location.reload(); return; }
    document.getElementById("live-turnout").textContent = found.turnout;
    var meter = document.getElementById("live-meter");
    meter.max = found.eligible || 1;
    meter.value = found.voters;
    document.getElementById("live-waiting").textContent = found.waiting.join(", ");
    var counts = document.getElementById("live-counts");
    if (counts && found.counts) {
      var rows = found.counts.map(function (row) {
        var tr = document.createElement("tr");
        tr.appendChild(cell("th", row[0], false));
        tr.appendChild(cell("td", row[1], true));
        tr.appendChild(cell("td", row[2], true));
        return tr;
      });
      counts.replaceChildren.apply(counts, rows);
    }
  }
  function refresh() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (found) { if (found) { show(found); } })
      .catch(function () { /* offline for a moment: the next round tries again */ });
  }
  window.setInterval(refresh, 15000);
})();
