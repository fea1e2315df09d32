/* Trading Playbook dashboard: draw every chart slot with plotly.js, on load and after HTMX swaps.
   A slot is <div class="chart" data-figure="ID"> beside <script type="application/json" id="ID">
   holding {"data": [...], "layout": {...}} built on the server. No inline script anywhere. */
(function () {
  "use strict";
  var CONFIG = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"] };

  function draw(root) {
    if (typeof Plotly === "undefined") { return; }
    var slots = (root || document).querySelectorAll("div.chart[data-figure]");
    slots.forEach(function (slot) {
      var source = document.getElementById(slot.getAttribute("data-figure"));
      if (!source) { return; }
      var figure = JSON.parse(source.textContent);
      if (slot.getAttribute("data-drawn") === "1") {
        Plotly.react(slot, figure.data, figure.layout, CONFIG);
      } else {
        Plotly.newPlot(slot, figure.data, figure.layout, CONFIG);
        slot.setAttribute("data-drawn", "1");
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSettle", function (event) { draw(event.detail.elt); });
  window.playbookDraw = draw;
})();
