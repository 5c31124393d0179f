// whatsapp-scheduler dashboard: small progressive enhancements, no build step.
"use strict";
(function () {
  const csrf = document.body.dataset.csrf || "";

  // -- live statuses over Server-Sent Events --------------------------------------------
  function watchStatuses() {
    const rows = Array.from(document.querySelectorAll("[data-live] [data-id]"));
    const live = document.getElementById("live");
    if (!rows.length || !window.EventSource) return;
    const ids = rows.map((r) => r.dataset.id);
    const source = new EventSource("/dashboard/api/events?ids=" + encodeURIComponent(ids.join(",")));
    // Shown only on pages that watch statuses. Each stream ends after a few seconds and the
    // browser reconnects within one (`retry: 1000`): that is not "offline". Only a connection
    // still down after OFFLINE_AFTER_MS is shown as offline.
    const OFFLINE_AFTER_MS = 4000;
    let down = null;
    if (live) live.hidden = false;
    source.onopen = () => {
      clearTimeout(down);
      down = null;
      if (live) live.classList.add("on");
    };
    source.onerror = () => {
      if (down === null) {
        down = setTimeout(() => live && live.classList.remove("on"), OFFLINE_AFTER_MS);
      }
    };
    source.addEventListener("status", (event) => {
      const data = JSON.parse(event.data);
      document.querySelectorAll('[data-id="' + CSS.escape(data.id) + '"]').forEach((row) => {
        row.querySelectorAll(".status").forEach((badge) => {
          badge.dataset.status = data.status;
          badge.textContent = data.label;
        });
        if (data.status !== "queued") {
          row.querySelectorAll("[data-cancellable]").forEach((el) => el.remove());
          row.querySelectorAll(".left").forEach((el) => (el.textContent = ""));
        }
      });
      Object.entries(data.transitions || {}).forEach(([name, when]) => {
        const item = document.querySelector('.timeline [data-transition="' + name + '"]');
        if (item && when) {
          item.hidden = false;
          item.querySelector("time").textContent = when;
        }
      });
    });
  }

  // -- time left, ticking ----------------------------------------------------------------
  function tickTimeLeft() {
    const cells = document.querySelectorAll(".left[data-due]");
    if (!cells.length) return;
    const render = () => {
      cells.forEach((cell) => {
        if (cell.textContent === "" && cell.dataset.done) return;
        let s = Math.floor((Date.parse(cell.dataset.due) - Date.now()) / 1000);
        const row = cell.closest("tr");
        const badge = row && row.querySelector(".status");
        if (badge && badge.dataset.status !== "queued") { cell.textContent = ""; cell.dataset.done = "1"; return; }
        if (s <= 0) { cell.textContent = cell.dataset.nowText; return; }
        const d = Math.floor(s / 86400); s %= 86400;
        const h = Math.floor(s / 3600); s %= 3600;
        const m = Math.floor(s / 60); s %= 60;
        const pad = (n) => String(n).padStart(2, "0");
        cell.textContent = d ? d + "d " + h + "h" : h ? h + "h " + pad(m) + "m" : m ? m + "m " + pad(s) + "s" : s + "s";
      });
    };
    render();
    setInterval(render, 1000);
  }

  // -- compose: recipient check, character counter, browser time zone -----------------------
  function compose() {
    const form = document.getElementById("compose");
    if (!form) return;
    const zone = document.getElementById("zone");
    if (zone && !zone.hasAttribute("data-chosen")) {
      try {
        const browser = Intl.DateTimeFormat().resolvedOptions().timeZone;
        if (browser && Array.from(zone.options).some((o) => o.value === browser)) zone.value = browser;
      } catch (e) { /* keep the service's default */ }
    }
    // "text | template": show the chosen part; the other one is disabled, so not sent.
    const kinds = Array.from(form.querySelectorAll("input[name=kind]"));
    const showKind = () => {
      const chosen = (kinds.find((k) => k.checked) || { value: "text" }).value;
      form.querySelectorAll("fieldset.part").forEach((part) => {
        const on = part.dataset.kind === chosen;
        part.hidden = !on;
        part.disabled = !on;
      });
    };
    kinds.forEach((k) => k.addEventListener("change", showKind));
    if (kinds.length) showKind();
    const text = document.getElementById("text");
    const count = document.getElementById("text-count");
    const max = Number(text.dataset.max);
    const showCount = () => {
      // Code points, as the service counts them (len() in Python), not UTF-16 units.
      const n = Array.from(text.value.replace(/\r\n/g, "\n")).length;
      count.textContent = n.toLocaleString() + " / " + max.toLocaleString();
      count.className = n > max ? "bad" : "";
    };
    text.addEventListener("input", showCount);
    showCount();
    const recipient = document.getElementById("recipient");
    const check = document.getElementById("recipient-check");
    let timer = null;
    let asked = 0;
    const verify = async () => {
      const value = recipient.value.trim();
      if (!value) { check.textContent = ""; return; }
      const mine = ++asked;
      check.textContent = check.dataset.checking;
      check.className = "";
      const reply = await fetch("/dashboard/api/recipient?value=" + encodeURIComponent(value), { credentials: "same-origin" });
      if (mine !== asked || !reply.ok) return;
      const data = await reply.json();
      check.textContent = data.ok ? check.dataset.ok + " " + data.e164 : data.field + ": " + data.rule;
      check.className = data.ok ? "good" : "bad";
      recipient.setAttribute("aria-invalid", data.ok ? "false" : "true");
    };
    recipient.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(verify, 250); });
    if (recipient.value) verify();
    // One submit per form: the button locks until the next page. (A second POST would still
    // store nothing: the form's hidden id names the same message.)
    const submit = document.getElementById("compose-submit");
    const label = submit ? submit.textContent : "";
    form.addEventListener("submit", (event) => {
      if (form.dataset.sending) { event.preventDefault(); return; }
      form.dataset.sending = "1";
      if (submit) { submit.disabled = true; submit.textContent = submit.dataset.sending; }
    });
    // Back to this page from the next one (the browser's cache): usable again.
    window.addEventListener("pageshow", () => {
      delete form.dataset.sending;
      if (submit) { submit.disabled = false; submit.textContent = label; }
    });
  }

  // -- import: store the previewed rows in chunks, with a progress bar -----------------------
  function importRows() {
    const button = document.getElementById("store");
    const source = document.getElementById("import-rows");
    if (!button || !source) return;
    button.addEventListener("click", async () => {
      const rows = JSON.parse(source.textContent);
      const chunk = Number(button.dataset.chunk) || 500;
      const progress = document.getElementById("progress");
      const summary = document.getElementById("summary");
      const refusedList = document.getElementById("refused");
      let stored = 0;
      let already = 0;
      let refused = Number(button.dataset.bad) || 0;
      button.disabled = true;
      button.textContent = button.dataset.storing;
      progress.hidden = false;
      for (let start = 0; start < rows.length; start += chunk) {
        const part = rows.slice(start, start + chunk);
        const reply = await fetch("/dashboard/api/import/batch", {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
          body: JSON.stringify({ messages: part }),
        });
        const data = await reply.json();
        if (!reply.ok) {
          summary.textContent = data.detail || reply.statusText;
          summary.className = "error";
          return;
        }
        stored += data.stored;
        already += data.already || 0;
        refused += data.refused;
        (data.errors || []).forEach((e) => {
          const li = document.createElement("li");
          li.textContent = (e.line ? e.line + ": " : "") + e.detail;
          refusedList.appendChild(li);
        });
        progress.value = Math.min(rows.length, start + part.length);
      }
      const words = already ? button.dataset.summaryAlready : button.dataset.summary;
      summary.textContent = words.replace("{stored}", stored).replace("{already}", already).replace("{refused}", refused);
      summary.dataset.stored = stored;
      summary.dataset.already = already;
      summary.dataset.refused = refused;
      button.hidden = true;
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    watchStatuses();
    tickTimeLeft();
    compose();
    importRows();
  });
})();
