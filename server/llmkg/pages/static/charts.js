/* Leaderboard charts: one horizontal bar chart per board, drawn by Chart.js (served from node_modules).
 * Each bar links to the source document that states the score. */
(function () {
  "use strict";
  if (typeof window.Chart === "undefined") return;
  document.querySelectorAll("canvas.board-chart").forEach(function (canvas) {
    var data = JSON.parse(canvas.getAttribute("data-chart"));
    canvas.parentElement.style.height = Math.max(140, data.values.length * 26 + 60) + "px";
    var chart = new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [{ label: data.title, data: data.values, backgroundColor: "#3b6ea8" }]
      },
      options: {
        indexAxis: "y",
        animation: false,
        maintainAspectRatio: false,
        plugins: { legend: { display: false }, tooltip: { callbacks: { footer: function () { return "click: open the source"; } } } },
        onHover: function (event, elements) { event.native.target.style.cursor = elements.length ? "pointer" : "default"; },
        onClick: function (event, elements) {
          if (elements.length) window.location.href = data.links[elements[0].index];
        }
      }
    });
    canvas.setAttribute("data-drawn", String(chart.data.datasets[0].data.length));
  });
})();
