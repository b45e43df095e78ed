// Every <table class="data-table">: sort by any column (click its header), download as CSV or JSON
// exactly as shown (the columns, the order), and pages of 50 rows for long tables.
// A cell's data-sort attribute, when present, is what it sorts by (numbers shown as "109 B").
(function () {
  "use strict";
  const PAGE = 50;
  const pagers = new Map();  // table -> its pager

  function cellText(cell) {
    return cell.textContent.replace(/\s+/g, " ").trim();
  }

  function headerCells(table) {
    const rows = table.tHead ? table.tHead.rows : [];
    return rows.length ? Array.from(rows[rows.length - 1].cells) : [];
  }

  function bodyRows(table) {
    return Array.from(table.tBodies).flatMap(function (body) { return Array.from(body.rows); });
  }

  function sortKey(cell) {
    if (!cell) return "";
    const given = cell.getAttribute("data-sort");
    return given !== null ? given : cellText(cell);
  }

  function asNumber(text) {
    const plain = text.replace(/[,\s%]/g, "");
    return plain !== "" && isFinite(plain) ? Number(plain) : null;
  }

  function sortBy(table, column, th) {
    const rows = bodyRows(table);
    const ascending = th.getAttribute("aria-sort") !== "ascending";
    const keys = rows.map(function (row) { return sortKey(row.cells[column]); });
    const numeric = keys.every(function (k) { return k === "" || asNumber(k) !== null; });
    const order = rows.map(function (row, i) { return i; });
    order.sort(function (a, b) {
      const x = keys[a], y = keys[b];
      if (x === "" || y === "") return (x === "") - (y === "") || a - b;  // empty cells last, either way
      const found = numeric ? asNumber(x) - asNumber(y) : x.localeCompare(y, undefined, { numeric: true });
      return (ascending ? found : -found) || a - b;
    });
    const body = table.tBodies[0];
    order.forEach(function (i) { body.appendChild(rows[i]); });
    headerCells(table).forEach(function (cell) { cell.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    paginate(table, 0);
  }

  function shown(table) {
    const names = headerCells(table).map(cellText);
    const rows = bodyRows(table).map(function (row) { return Array.from(row.cells).map(cellText); });
    return { names: names, rows: rows };
  }

  function csv(data) {
    const quote = function (v) { return /[",\n]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v; };
    return [data.names].concat(data.rows).map(function (r) { return r.map(quote).join(","); }).join("\r\n") + "\r\n";
  }

  function json(data) {
    return JSON.stringify(data.rows.map(function (r) {
      const out = {};
      data.names.forEach(function (name, i) { out[name || "column " + (i + 1)] = r[i] === undefined ? "" : r[i]; });
      return out;
    }), null, 1);
  }

  function download(table, kind) {
    const data = shown(table);
    const body = kind === "csv" ? csv(data) : json(data);
    const type = kind === "csv" ? "text/csv" : "application/json";
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([body], { type: type + ";charset=utf-8" }));
    link.download = (table.getAttribute("data-name") || table.id || "table") + "." + kind;
    document.body.appendChild(link);
    link.click();
    setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 0);
  }

  function paginate(table, page) {
    const rows = bodyRows(table);
    const size = Number(table.getAttribute("data-page-size")) || PAGE;
    const pager = pagers.get(table);
    if (rows.length <= size || !pager) return;
    const pages = Math.ceil(rows.length / size);
    page = Math.max(0, Math.min(page, pages - 1));
    rows.forEach(function (row, i) { row.hidden = Math.floor(i / size) !== page; });
    pager.hidden = false;
    pager.querySelector(".where").textContent = "rows " + (page * size + 1) + " to " +
      Math.min(rows.length, (page + 1) * size) + " of " + rows.length;
    pager.querySelector(".previous").disabled = page === 0;
    pager.querySelector(".next").disabled = page === pages - 1;
    pager.dataset.page = String(page);
  }

  function button(text, cls, action) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = cls;
    b.textContent = text;
    b.addEventListener("click", action);
    return b;
  }

  function setUp(table) {
    const tools = document.createElement("div");
    tools.className = "table-tools";
    tools.append(
      button("Download CSV", "download-csv", function () { download(table, "csv"); }),
      button("Download JSON", "download-json", function () { download(table, "json"); })
    );
    const box = table.closest(".table-box") || table;
    box.before(tools);
    const pager = document.createElement("div");
    pager.className = "pager";
    pager.hidden = true;
    pagers.set(table, pager);
    const where = document.createElement("span");
    where.className = "where";
    const step = function (by) { return function () { paginate(table, Number(pager.dataset.page || 0) + by); }; };
    pager.append(button("Previous", "previous", step(-1)), where, button("Next", "next", step(1)));
    box.after(pager);
    headerCells(table).forEach(function (th, column) {
      const sort = document.createElement("button");
      sort.type = "button";
      sort.className = "sort";
      sort.title = "Sort by this column";
      sort.addEventListener("click", function () { sortBy(table, column, th); });
      if (th.querySelector("a, button, input, select")) {  // a header that links somewhere gets a button beside it
        sort.classList.add("beside");
        sort.setAttribute("aria-label", "Sort by " + cellText(th));
      } else {
        sort.append(...Array.from(th.childNodes));
      }
      th.append(sort);
    });
    paginate(table, 0);
  }

  document.querySelectorAll("table.data-table").forEach(setUp);
})();
