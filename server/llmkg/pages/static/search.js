// Suggestions under the header's search box as a person types, from /search?format=json.
// Without this script the box is a plain form that opens the results page.
(function () {
  "use strict";
  const form = document.querySelector("form.site-search");
  if (!form) return;
  const input = form.querySelector("input[name=q]");
  const list = form.querySelector(".suggestions");
  let timer = null;
  let asked = 0;

  function clear() {
    list.replaceChildren();
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
  }

  function show(results) {
    list.replaceChildren(...results.map(function (hit) {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = hit.url;
      link.textContent = hit.label;
      const note = document.createElement("span");
      note.className = "muted";
      note.textContent = " " + hit.kind + (hit.matched !== hit.label ? " · " + hit.matched : "");
      link.append(note);
      item.append(link);
      return item;
    }));
    list.hidden = results.length === 0;
    input.setAttribute("aria-expanded", String(results.length > 0));
  }

  async function suggest() {
    const text = input.value.trim();
    if (!text) { clear(); return; }
    const mine = ++asked;
    const address = new URL(form.action);
    address.search = new URLSearchParams({ q: text, format: "json", limit: "8" }).toString();
    const response = await fetch(address, { headers: { Accept: "application/json" } });
    if (!response.ok || mine !== asked) return;  // a later keystroke has asked again
    show((await response.json()).results);
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(suggest, 120);
  });
  input.addEventListener("keydown", function (event) {
    const first = list.querySelector("a");
    if (event.key === "ArrowDown" && first) { event.preventDefault(); first.focus(); }
    if (event.key === "Escape") clear();
  });
  list.addEventListener("keydown", function (event) {
    const item = document.activeElement.closest("li");
    if (!item) return;
    const next = event.key === "ArrowDown" ? item.nextElementSibling : event.key === "ArrowUp" ? item.previousElementSibling : null;
    if (next) { event.preventDefault(); next.querySelector("a").focus(); }
    if (event.key === "ArrowUp" && !item.previousElementSibling) { event.preventDefault(); input.focus(); }
    if (event.key === "Escape") { clear(); input.focus(); }
  });
  document.addEventListener("click", function (event) { if (!form.contains(event.target)) clear(); });
})();
