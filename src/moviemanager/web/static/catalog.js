// The catalog without full reloads: a filter, a search (as you type), a category or Back/Forward
// fetches the page for the new URL and swaps in its results; "More movies" appends the next page
// and writes how many movies the page shows in the URL (`shown`), so a reload or a link shows them all.
// Without this script every control still works as a plain GET form or link.
(() => {
  "use strict";
  const form = () => document.getElementById("filters");
  if (!form() || !window.fetch || !window.DOMParser || !history.pushState) return;
  let controller = null;
  let typing = null;

  function stateUrl() {
    const query = new URLSearchParams();
    for (const [name, value] of new FormData(form())) if (String(value).trim() !== "") query.append(name, value);
    const text = query.toString();
    return text ? "/?" + text : "/";
  }

  async function fetchPage(url) {
    if (controller) controller.abort();
    controller = new AbortController();
    document.body.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(url, { signal: controller.signal, headers: { Accept: "text/html" } });
      const doc = new DOMParser().parseFromString(await response.text(), "text/html");
      return response.ok && doc.getElementById("content") ? doc : null;
    } finally {
      document.body.removeAttribute("aria-busy");
    }
  }

  // history: "push" a new entry, "replace" the current one, or "none" (Back/Forward).
  async function show(url, history_ = "push", whole = false) {
    let doc;
    try {
      doc = await fetchPage(url);
    } catch (error) {
      if (error.name === "AbortError") return;
      location.assign(url); // offline or failed: let the browser show what it can
      return;
    }
    if (!doc) {
      location.assign(url); // an error page (its detail, its status): show it whole
      return;
    }
    const focused = document.activeElement && document.activeElement.id;
    const part = whole ? "filters" : "content";
    document.getElementById(part).replaceWith(doc.getElementById(part));
    document.title = doc.title;
    if (history_ === "push") history.pushState(null, "", url);
    else if (history_ === "replace") history.replaceState(null, "", url);
    const again = focused && document.getElementById(focused);
    if (again) again.focus();
  }

  document.addEventListener("change", (event) => {
    const target = event.target;
    if (target.form !== form() || target.name === "q") return;
    typing = null;
    show(stateUrl());
  });

  document.addEventListener("input", (event) => {
    if (event.target.name !== "q" || event.target.form !== form()) return;
    clearTimeout(typing && typing.timer);
    const first = !typing;
    typing = { timer: setTimeout(() => show(stateUrl(), first ? "push" : "replace"), 250) };
  });

  document.addEventListener("submit", (event) => {
    if (event.target !== form()) return;
    event.preventDefault();
    typing = null;
    show(stateUrl());
  });

  document.addEventListener("click", async (event) => {
    const link = event.target.closest && event.target.closest("a");
    if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    if (link.hasAttribute("data-nav")) {
      event.preventDefault();
      typing = null;
      await show(link.getAttribute("href"), "push", true);
    } else if (link.classList.contains("more")) {
      event.preventDefault();
      await more(link);
    }
  });

  async function more(link) {
    let doc;
    try {
      doc = await fetchPage(link.getAttribute("href"));
    } catch (error) {
      if (error.name !== "AbortError") location.assign(link.href);
      return;
    }
    if (!doc) return location.assign(link.href);
    const grid = document.getElementById("grid");
    const cards = [...doc.querySelectorAll("#grid > li")];
    const shown = grid.children.length + cards.length;
    if (shown > Number(grid.dataset.maxShown)) return location.assign(link.href); // too many for one URL: open the next page
    cards.forEach((card) => grid.appendChild(document.adoptNode(card)));
    const url = new URL(location.href);
    url.searchParams.set("shown", String(shown));
    history.replaceState(null, "", url.pathname + url.search);
    const next = doc.querySelector("a.more");
    const row = link.parentNode;
    if (next) link.setAttribute("href", next.getAttribute("href"));
    else row.remove();
    const first = cards[0] && cards[0].querySelector("a");
    if (first) first.focus();
  }

  window.addEventListener("popstate", () => show(location.pathname + location.search, "none", true));
})();
