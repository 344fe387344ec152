// Draws every <canvas data-chart="{Chart.js config}"> on load and after each htmx swap.
(function () {
  // A 4xx answer carries a readable message: show it where the answer would go.
  htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "[234]..", swap: true },
    { code: "...", swap: false, error: true },
  ];
  function hideBands(item) { return item.text.indexOf("95% ") < 0; }
  function draw(root) {
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var config = JSON.parse(canvas.dataset.chart);
      var legend = config.options.plugins.legend.labels;
      if (legend.filter === "hide-bands") legend.filter = hideBands;
      var old = Chart.getChart(canvas);
      if (old) old.destroy();
      new Chart(canvas, config);
      canvas.dataset.drawn = "yes";
    });
  }
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSettle", function (event) { draw(event.target); });
})();
