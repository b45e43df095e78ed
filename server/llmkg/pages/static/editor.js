/* The query editor: YASGUI (@zazuko/yasgui, served from node_modules) with the saved queries as named
 * examples, the endpoint's prefixes, and a "Chart" results view drawn by Chart.js. Without YASGUI the
 * page keeps its plain form, which runs queries on the server. */
(function () {
  "use strict";
  var holder = document.getElementById("yasgui");
  var configEl = document.getElementById("editor-config");
  if (!holder || !configEl || typeof window.Yasgui === "undefined") return;
  var cfg = JSON.parse(configEl.textContent);
  var Yasgui = window.Yasgui;

  /* A YASR plugin: a bar chart of the measured numeric column against the first other column. The
     measured column is one named like a measurement (value, score, mean, total, count, n), else the last
     numeric one: results list their conditions (shots, year) before what was measured. */
  function ChartPlugin(yasr) {
    this.yasr = yasr;
    this.priority = 5;
    this.label = "Chart";
  }
  ChartPlugin.prototype.columns = function () {
    var results = this.yasr.results;
    if (!results || !results.getVariables || !results.getBindings) return null;
    var vars = results.getVariables(), rows = results.getBindings() || [];
    var numerics = vars.filter(function (v) {
      return rows.length > 0 && rows.every(function (r) { return r[v] && r[v].value !== "" && !isNaN(Number(r[v].value)); });
    });
    if (numerics.length === 0) return null;
    var measured = numerics.find(function (v) { return /^(value|score|mean|avg|average|total|count|n)$/i.test(v); });
    var numeric = measured || numerics[numerics.length - 1];
    var others = vars.filter(function (v) { return v !== numeric; });
    var literal = others.find(function (v) { return rows.every(function (r) { return r[v] && r[v].type !== "uri"; }); });
    var label = literal || others[0] || numeric;
    return { rows: rows, numeric: numeric, label: label };
  };
  ChartPlugin.prototype.canHandleResults = function () {
    return typeof window.Chart !== "undefined" && this.columns() !== null;
  };
  ChartPlugin.prototype.draw = function () {
    var c = this.columns();
    var box = document.createElement("div");
    box.className = "yasr-chart";
    var canvas = document.createElement("canvas");
    box.appendChild(canvas);
    this.yasr.resultsEl.appendChild(box);
    var short = function (b) { return b ? b.value.replace(/^.*[\/#]/, "") : ""; };
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: c.rows.map(function (r) { return r[c.label] && r[c.label].type === "uri" ? short(r[c.label]) : (r[c.label] || {}).value; }),
        datasets: [{ label: c.numeric, data: c.rows.map(function (r) { return Number(r[c.numeric].value); }) }]
      },
      options: { animation: false, indexAxis: c.rows.length > 12 ? "y" : "x", maintainAspectRatio: false }
    });
    box.style.height = Math.max(320, Math.min(c.rows.length, 60) * 18) + "px";
  };
  ChartPlugin.prototype.getIcon = function () {
    var icon = document.createElement("span");
    icon.textContent = "▮";
    return icon;
  };
  if (typeof window.Chart !== "undefined") Yasgui.Yasr.registerPlugin("chart", ChartPlugin);

  var endpoint = holder.getAttribute("data-endpoint");
  var yasgui = new Yasgui(holder, {
    requestConfig: { endpoint: endpoint, method: "POST" },
    copyEndpointOnNewTab: true,
    endpointCatalogueOptions: { getData: function () { return [{ endpoint: endpoint }]; } },
    persistenceId: "llmkg-editor",
    populateFromUrl: false,
    yasqe: { value: cfg.defaultQuery },
    yasr: { prefixes: cfg.prefixes, defaultPlugin: "table" }
  });
  window.llmkgEditor = yasgui;
  document.getElementById("plain-form").hidden = true;
  var plain = document.getElementById("plain-results");
  if (plain) plain.hidden = true;
  document.body.classList.add("yasgui-ready");

  /* Result IRIs of the graph open here, at the same path, so browsing works offline. */
  var publicBase = holder.getAttribute("data-public"), siteBase = holder.getAttribute("data-site");
  holder.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[href]") : null;
    if (!link || link.href.indexOf(publicBase) !== 0) return;
    event.preventDefault();
    window.open(siteBase + link.href.slice(publicBase.length), link.target || "_self");
  }, true);

  function openExample(id) {
    var example = cfg.examples.find(function (e) { return e.id === id; });
    if (!example) return;
    var existing = Object.keys(yasgui._tabs).map(function (k) { return yasgui.getTab(k); })
      .find(function (t) { return t && t.getName() === example.name; });
    var tab = existing ? yasgui.selectTabId(existing.getId()) : yasgui.addTab(true, { name: example.name });
    tab.setQuery(example.query);
    return tab;
  }
  document.querySelectorAll("[data-example]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      openExample(link.getAttribute("data-example"));
    });
  });
  var wanted = new URLSearchParams(window.location.search).get("example");
  if (wanted) openExample(wanted);

  /* What YASGUI's markup lacks for screen readers and keyboards, added after each of its redraws: names for
   * its text fields, a focusable query box, and a role for its "add tab" button, the one child of its list of
   * tabs that is not a tab (YASGUI inserts new tabs before it, so it stays where it is). */
  function accessible() {
    holder.querySelectorAll("input.autocomplete:not([aria-label])").forEach(function (field) {
      field.setAttribute("aria-label", "SPARQL endpoint");
    });
    holder.querySelectorAll(".tab input[type=text]:not([aria-label])").forEach(function (field) {
      field.setAttribute("aria-label", "Name of this tab");
    });
    holder.querySelectorAll(".CodeMirror textarea:not([aria-label])").forEach(function (field) {
      field.setAttribute("aria-label", "SPARQL query");
    });
    holder.querySelectorAll(".CodeMirror-scroll:not([tabindex=\"0\"])").forEach(function (box) {  // CodeMirror sets -1
      box.setAttribute("tabindex", "0");
    });
    holder.querySelectorAll(".tabsList button.addTab:not([role])").forEach(function (add) {
      add.setAttribute("role", "tab");
      add.setAttribute("aria-selected", "false");
    });
  }
  accessible();
  new MutationObserver(accessible).observe(holder, { childList: true, subtree: true });  // it only sets attributes
})();
