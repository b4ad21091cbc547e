// The admin page: sign in (or paste a token), then check a catalog CSV with a dry run, apply it,
// export a catalog or reload its default CSV, all through the JSON API with the bearer token.
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const text = JSON.parse($("messages").textContent);
  const allTenants = JSON.parse($("all-tenants").textContent);
  const TOKEN = "moviemanager.token";
  const KIND = "moviemanager.token-kind";
  let checked = null; // the file and options a dry run accepted

  function say(message, kind = "error") {
    const box = $("message");
    box.textContent = message;
    box.className = kind;
    box.hidden = !message;
    if (message && kind === "error") box.scrollIntoView({ block: "nearest" });
  }

  function detailOf(body, status) {
    const detail = body && body.detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) return detail.map((e) => `${(e.loc || []).join(".")}: ${e.msg}`).join("\n");
    return `HTTP ${status}`;
  }

  async function api(method, url, body) {
    const headers = { Authorization: "Bearer " + sessionStorage.getItem(TOKEN) };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const parsed = response.status === 204 ? null : await response.json().catch(() => null);
    if (!response.ok) throw Object.assign(new Error(detailOf(parsed, response.status)), { status: response.status, body: parsed });
    return parsed;
  }

  const tenant = () => $("new-tenant").value.trim() || $("tenant").value;

  function fillTenants(names, free) {
    const select = $("tenant");
    select.replaceChildren(...names.map((name) => new Option(name, name)));
    $("new-tenant-row").hidden = !free;
    $("upload").hidden = names.length === 0 && !free;
    if (names.length === 0 && !free) say(text.no_tenants);
    updateExport();
  }

  function updateExport() {
    $("export").href = "/movies.csv?tenant=" + encodeURIComponent(tenant());
  }

  async function enter() {
    const kind = sessionStorage.getItem(KIND);
    try {
      const me = await api("GET", "/auth/me");
      $("who").textContent = text.signed_in_as.replace("{name}", me.username);
      fillTenants(me.is_admin ? allTenants : me.tenants, me.is_admin);
    } catch (error) {
      if (kind === "login" || error.status !== 401) {
        signOut();
        return say(error.message);
      }
      // A pasted API token is no login: it may write what it was issued for, as the server decides.
      $("who").textContent = text.signed_in_token;
      fillTenants(allTenants, true);
    }
    $("signin").hidden = true;
    $("work").hidden = false;
    $("work-h").focus && $("work-h").setAttribute("tabindex", "-1");
    $("work-h").focus();
  }

  function signOut() {
    sessionStorage.removeItem(TOKEN);
    sessionStorage.removeItem(KIND);
    $("signin").hidden = false;
    $("work").hidden = true;
  }

  $("login").addEventListener("submit", async (event) => {
    event.preventDefault();
    say("");
    try {
      const response = await fetch("/auth/login", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username: $("username").value, password: $("password").value }),
      });
      const body = await response.json().catch(() => null);
      if (!response.ok) return say(detailOf(body, response.status));
      sessionStorage.setItem(TOKEN, body.access_token);
      sessionStorage.setItem(KIND, "login");
      $("password").value = "";
      await enter();
    } catch (error) {
      say(error.message);
    }
  });

  $("paste").addEventListener("submit", async (event) => {
    event.preventDefault();
    say("");
    sessionStorage.setItem(TOKEN, $("token").value.trim());
    sessionStorage.setItem(KIND, "pasted");
    $("token").value = "";
    await enter();
  });

  $("signout").addEventListener("click", async () => {
    if (sessionStorage.getItem(KIND) === "login") await api("POST", "/auth/logout").catch(() => null);
    signOut();
    say("");
  });

  function options(dryRun) {
    const form = $("upload");
    const query = new URLSearchParams({
      tenant: tenant(),
      mode: form.elements.mode.value,
      on_error: form.elements.on_error.value,
      allow_shrink: $("allow-shrink").checked ? "true" : "false",
    });
    if (dryRun) query.set("dry_run", "true");
    return query.toString();
  }

  function upload(file, query) {
    return new Promise((resolve) => {
      const request = new XMLHttpRequest();
      request.open("POST", "/reload?" + query);
      request.setRequestHeader("Authorization", "Bearer " + sessionStorage.getItem(TOKEN));
      request.upload.onprogress = (event) => {
        if (event.lengthComputable) $("progress").value = event.loaded / event.total;
      };
      request.onload = () => {
        let body = null;
        try { body = JSON.parse(request.responseText); } catch { /* not JSON */ }
        resolve({ status: request.status, body });
      };
      request.onerror = () => resolve({ status: 0, body: { detail: "The server could not be reached." } });
      const data = new FormData();
      data.append("file", file);
      $("progress").value = 0;
      request.send(data);
    });
  }

  function table(caption, rows) {
    const element = document.createElement("table");
    element.createCaption().textContent = `${caption} (${rows.length})`;
    const head = element.createTHead().insertRow();
    for (const key of ["line", "column", "value", "reason"]) {
      const cell = document.createElement("th");
      cell.scope = "col";
      cell.textContent = text[key];
      head.appendChild(cell);
    }
    const body = element.createTBody();
    for (const row of rows) {
      const line = body.insertRow();
      for (const key of ["line", "column", "value", "reason"]) line.insertCell().textContent = row[key] ?? "";
    }
    return element;
  }

  function report(body, title) {
    const area = $("report");
    const heading = document.createElement("h3");
    heading.textContent = title;
    const parts = [heading];
    if ("inserted" in body) {
      const counts = document.createElement("table");
      counts.id = "counts";
      const row = counts.createTHead().insertRow();
      const values = counts.createTBody().insertRow();
      for (const key of ["inserted", "updated", "deleted", "unchanged", "skipped", "total"]) {
        const cell = document.createElement("th");
        cell.scope = "col";
        cell.textContent = text[key];
        row.appendChild(cell);
        values.insertCell().textContent = body[key] ?? 0;
      }
      parts.push(counts);
    }
    if (body.errors && body.errors.length) parts.push(table(text.errors, body.errors));
    if (body.warnings && body.warnings.length) parts.push(table(text.warnings, body.warnings));
    area.replaceChildren(...parts);
  }

  async function send(dryRun) {
    const file = dryRun ? $("file").files[0] : checked && checked.file;
    if (!file) return;
    say("");
    $("apply").disabled = true;
    const query = dryRun ? options(true) : checked.query;
    const { status, body } = await upload(file, query);
    if (status === 200) {
      report(body, dryRun ? text.dry_run_report : text.applied_report);
      $("shrink-help").hidden = true;
      checked = dryRun ? { file, query: options(false) } : null;
      $("apply").disabled = !dryRun;
      if (!dryRun) say(`${text.applied_report}: ${body.tenant}`, "ok");
      return;
    }
    const detail = detailOf(body, status);
    say(detail);
    $("report").replaceChildren();
    if (body && body.errors) report(body, text.errors);
    if (status === 422 && detail.includes("allow_shrink")) {
      $("shrink-help").hidden = false;
      $("allow-shrink").focus();
    }
  }

  $("upload").addEventListener("submit", (event) => {
    event.preventDefault();
    send(true);
  });
  $("apply").addEventListener("click", () => send(false));
  $("upload").addEventListener("change", (event) => {
    if (event.target.id !== "progress") {
      checked = null; // any change of file or option needs a new dry run
      $("apply").disabled = true;
    }
    updateExport();
  });
  $("new-tenant").addEventListener("input", updateExport);

  $("reload-default").addEventListener("click", async () => {
    say("");
    try {
      const body = await api("POST", "/reload?tenant=" + encodeURIComponent(tenant()));
      report(body, text.reloaded);
      say(`${text.reloaded}: ${body.tenant}`, "ok");
    } catch (error) {
      say(error.message);
    }
  });

  if (sessionStorage.getItem(TOKEN)) enter();
})();
