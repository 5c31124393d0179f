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
    const announce = document.getElementById("live-announce");
    source.addEventListener("status", (event) => {
      const data = JSON.parse(event.data);
      // Said by screen readers (aria-live): which message changed, and to what.
      if (announce) announce.textContent = data.id + ": " + data.label;
      document.dispatchEvent(new CustomEvent("wsched:status", {detail: data}));
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
  // "in 2 days" / "2 gün sonra", as the server words it (Babel's format_timedelta): the
  // largest unit of which at least 0.85 is left, rounded.
  const UNITS = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400],
    ["hour", 3600], ["minute", 60], ["second", 1]];
  const lang = document.documentElement.lang || "en";
  let wording = null;
  try { wording = new Intl.RelativeTimeFormat(lang, { numeric: "always" }); } catch (e) { /* old browser */ }
  function relative(seconds) {
    for (const [unit, size] of UNITS) {
      const value = seconds / size;
      if (value >= 0.85 || unit === "second") {
        const n = Math.max(1, Math.round(value));
        return wording ? wording.format(n, unit) : n + " " + unit + (n === 1 ? "" : "s");
      }
    }
    return "";
  }

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
        cell.textContent = relative(s);
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
    // Buttons or a list: likewise only the chosen type's inputs (reply buttons, a list, a URL
    // button) show and are sent.
    const interactive = document.getElementById("interactive-type");
    const showInteractive = () => {
      form.querySelectorAll("fieldset.subpart[data-interactive]").forEach((part) => {
        const on = part.dataset.interactive === interactive.value;
        part.hidden = !on;
        part.disabled = !on;
      });
    };
    if (interactive) {
      interactive.addEventListener("change", showInteractive);
      showInteractive();
    }
    setUpUpload();
    const text = document.getElementById("text");
    const count = document.getElementById("text-count");
    const max = Number(text.dataset.max);
    const showCount = () => {
      // Code points, as the service counts them (len() in Python), not UTF-16 units.
      const n = Array.from(text.value.replace(/\r\n/g, "\n")).length;
      count.textContent = n.toLocaleString(lang) + " / " + max.toLocaleString(lang);
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
      if (data.ok) showWindow(value, mine);
      else if (windowState) windowState.textContent = "";
    };
    // The recipient's 24-hour window with the chosen sender, before scheduling.
    const windowState = document.getElementById("window-state");
    const senderField = document.getElementById("sender");
    const showWindow = async (value, mine) => {
      if (!windowState) return;
      const query = "alici=" + encodeURIComponent(value) +
        "&gonderen=" + encodeURIComponent(senderField ? senderField.value : "");
      const reply = await fetch("/dashboard/api/window?" + query, { credentials: "same-origin" });
      if (mine !== asked) return;
      if (!reply.ok) { windowState.textContent = ""; return; }
      const data = await reply.json();
      windowState.textContent = data.text;
      windowState.dataset.state = data.state;
    };
    if (senderField) senderField.addEventListener("change", () => verify());
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

  // -- compose: the template picker's preview, filled in as the parameters are typed ----------
  function templatePreview() {
    const box = document.getElementById("template-preview");
    const name = document.getElementById("template-name");
    if (!box || !name) return;
    const language = document.getElementById("template-language");
    const params = document.getElementById("template-params");
    const sender = document.getElementById("sender");
    const names = document.getElementById("template-names");
    const el = (id) => document.getElementById(id);
    let data = null;
    let asked = 0;
    let timer = null;
    const fill = (text, variables, values, named) =>
      text.replace(named ? /\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}/g : /\{\{\s*(\d+)\s*\}\}/g, (whole, key) => {
        const i = named ? variables.indexOf(key) : Number(key) - 1;
        const v = i >= 0 ? values[i] : undefined;
        return v ? v : whole;
      });
    const render = () => {
      const info = el("preview-info");
      const bubble = el("preview-bubble");
      if (!data || !name.value.trim()) { box.hidden = true; return; }
      box.hidden = false;
      if (!data.found) {
        bubble.hidden = true;
        const langs = (data.languages || []).join(", ");
        info.textContent = box.dataset.none + (langs ? " " + box.dataset.languages.replace("{languages}", langs) : "");
        box.dataset.found = "false";
        return;
      }
      box.dataset.found = "true";
      const lines = params.value.replace(/\r\n/g, "\n").split("\n");
      while (lines.length && !lines[lines.length - 1].trim()) lines.pop();
      const named = data.parameter_format === "NAMED";
      const vars = data.variables || [];
      const shown = vars.map((v) => "{{" + v + "}}").join(", ");
      const missing = vars.filter((v, i) => !lines[i]).map((v) => "{{" + v + "}}");
      info.textContent = [
        box.dataset.statusLine.replace("{status}", data.status_label).replace("{category}", data.category_label),
        vars.length ? box.dataset.takes.replace("{count}", vars.length).replace("{names}", shown) : "",
        missing.length ? box.dataset.missing.replace("{names}", missing.join(", ")) : "",
      ].filter(Boolean).join(" · ");
      bubble.hidden = false;
      const header = el("preview-header");
      header.hidden = !data.header_format;
      header.textContent = data.header_format === "TEXT" ? fill(data.header || "", vars, lines, named) : "[" + (data.header_format || "") + "]";
      el("preview-body").textContent = fill(data.body || "", vars, lines, named);
      const footer = el("preview-footer");
      footer.hidden = !data.footer;
      footer.textContent = data.footer || "";
      const buttons = el("preview-buttons");
      buttons.replaceChildren(...(data.buttons || []).map((b) => { const li = document.createElement("li"); li.textContent = b; return li; }));
      buttons.hidden = !(data.buttons || []).length;
    };
    const load = async () => {
      const mine = ++asked;
      const query = new URLSearchParams({ name: name.value.trim(), language: language.value.trim(), sender: sender ? sender.value : "" });
      if (!name.value.trim()) { data = null; render(); return; }
      const reply = await fetch("/dashboard/api/template?" + query, { credentials: "same-origin" });
      if (mine !== asked || !reply.ok) return;
      data = await reply.json();
      render();
    };
    const later = () => { clearTimeout(timer); timer = setTimeout(load, 200); };
    name.addEventListener("input", later);
    language.addEventListener("input", later);
    params.addEventListener("input", render);
    if (sender && sender.tagName === "SELECT" && names) {
      sender.addEventListener("change", async () => {
        later();
        const reply = await fetch("/dashboard/api/template-names?sender=" + encodeURIComponent(sender.value), { credentials: "same-origin" });
        if (!reply.ok) return;
        const list = await reply.json();
        names.replaceChildren(...list.names.map((n) => { const o = document.createElement("option"); o.value = n; return o; }));
      });
    }
    if (name.value.trim()) load();
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

  // -- the last 14 days (Upcoming): Chart.js from /static/vendor, fed by /dashboard/api/stats --
  function stats() {
    const source = document.getElementById("stats-data");
    const canvas = document.getElementById("stats-chart");
    if (!source || !canvas || !window.Chart) return;
    const toData = (view) => ({
      labels: view.labels,
      datasets: view.series.map((s) => ({
        label: s.label, data: s.data, backgroundColor: s.color, stack: "due",
      })),
    });
    let view = JSON.parse(source.textContent);
    const chart = new window.Chart(canvas, {
      type: "bar",
      data: toData(view),
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        scales: {x: {stacked: true}, y: {stacked: true, beginAtZero: true, ticks: {precision: 0}}},
        plugins: {legend: {position: "bottom"}},
      },
    });
    window.__statsChart = chart;  // read by the browser tests
    const cell = (text, status) => {
      const td = document.createElement("td");
      td.textContent = String(text);
      if (status) td.dataset.status = status;
      return td;
    };
    const render = () => {
      chart.data = toData(view);
      chart.update();
      const rows = document.getElementById("stats-rows");
      if (rows) {
        rows.replaceChildren(...view.labels.map((label, i) => {
          const tr = document.createElement("tr");
          tr.dataset.day = view.days[i];
          tr.append(cell(label), ...view.series.map((s) => cell(s.data[i], s.status)));
          return tr;
        }));
        const head = rows.parentElement.querySelector("thead tr");
        if (head) head.replaceChildren(head.firstElementChild, ...view.series.map((s) => {
          const th = document.createElement("th");
          th.textContent = s.label;
          return th;
        }));
      }
      const failures = document.getElementById("stats-failures");
      if (failures && view.failures.length) {
        failures.replaceChildren(...view.failures.map((f) => {
          const li = document.createElement("li");
          li.dataset.code = f.code === null ? "" : String(f.code);
          const count = document.createElement("strong");
          count.textContent = String(f.count);
          li.append(count, " ", f.code === null ? "" : f.code + " ", f.text);
          return li;
        }));
      }
    };
    let busy = false;
    const refresh = async () => {
      if (busy || document.hidden) return;
      busy = true;
      try {
        const answer = await fetch(canvas.dataset.source, {credentials: "same-origin"});
        if (answer.ok) {
          view = await answer.json();
          render();
        }
      } catch (e) { /* offline for a moment: the next tick tries again */ }
      busy = false;
    };
    setInterval(refresh, 10000);
    // A status seen live: ask again once the server's 5-second copy has been renewed.
    let soon = null;
    document.addEventListener("wsched:status", () => {
      if (soon === null) soon = setTimeout(() => { soon = null; refresh(); }, 6000);
    });
  }

  // Upcoming's bulk bar: "select all" ticks every row of the page (each row's checkbox belongs
  // to the form by its form= attribute); a row ticked by hand updates "select all".
  function bulkSelect() {
    const all = document.querySelector("[data-select-all]");
    if (!all) return;
    const boxes = () => Array.from(
      document.querySelectorAll(`input[type=checkbox][name=id][form="${all.dataset.selectAll}"]`));
    all.addEventListener("change", () => boxes().forEach((b) => { b.checked = all.checked; }));
    document.addEventListener("change", (event) => {
      if (event.target.name !== "id") return;
      const list = boxes();
      all.checked = list.length > 0 && list.every((b) => b.checked);
      all.indeterminate = !all.checked && list.some((b) => b.checked);
    });
  }

  // The zone picker's search box: hides the options whose label does not hold what is typed
  // ("istanbul", "new_york", "+03"); the chosen option stays. Shown only with JavaScript.
  function zoneFilter() {
    const input = document.getElementById("zone-filter");
    const select = document.getElementById("zone");
    if (!input || !select) return;
    input.closest("label").hidden = false;
    const options = Array.from(select.options);
    input.addEventListener("input", () => {
      const wanted = input.value.trim().toLowerCase().replace(/ /g, "_");
      const matches = (o) => !wanted || o.text.toLowerCase().includes(wanted);
      const current = select.options[select.selectedIndex];
      const first = options.find(matches);
      if (first && current && !matches(current)) {
        select.value = first.value;  // the first match is chosen, as a person would expect
        select.setAttribute("data-chosen", "");
      }
      options.forEach((o) => { o.hidden = !(matches(o) || o.selected); });
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    zoneFilter();
    bulkSelect();
    stats();
    watchStatuses();
    tickTimeLeft();
    compose();
    templatePreview();
    importRows();
  });

  // Compose's file (docs/media.md): uploaded as soon as it is chosen, with its progress, to
  // /dashboard/api/media; the form then sends only the stored file's id (media_id). The
  // submit button waits while an upload runs. A refusal shows the service's rule.
  function setUpUpload() {
    const input = document.getElementById("media-file");
    if (!input) return;
    const progress = document.getElementById("media-progress");
    const state = document.getElementById("media-state");
    const hidden = document.getElementById("media-id");
    const preview = document.getElementById("media-preview");
    const type = document.getElementById("media-type");
    const submit = document.getElementById("compose-submit");
    const filename = document.getElementById("filename");
    const show = (text, cls) => { state.textContent = text; state.className = cls || ""; };
    input.addEventListener("change", () => {
      const file = input.files && input.files[0];
      if (!file) return;
      const body = new FormData();
      body.append("file", file);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", "/dashboard/api/media");
      xhr.setRequestHeader("X-CSRF-Token", csrf);
      hidden.value = "";
      preview.textContent = "";
      progress.hidden = false;
      progress.value = 0;
      submit.disabled = true;
      show(input.dataset.uploading.replace("{name}", file.name));
      xhr.upload.onprogress = (ev) => {
        if (ev.lengthComputable) progress.value = Math.round((100 * ev.loaded) / ev.total);
      };
      const failed = (text) => {
        submit.disabled = false;
        progress.hidden = true;
        show(text || input.dataset.failed, "bad");
      };
      xhr.onerror = () => failed(null);
      xhr.onload = () => {
        let answer = {};
        try { answer = JSON.parse(xhr.responseText); } catch (e) { /* shown as failed */ }
        if (xhr.status !== 201) return failed(answer.text);
        submit.disabled = false;
        progress.value = 100;
        hidden.value = answer.id;
        type.value = answer.type;
        show(input.dataset.uploaded.replace("{name}", answer.filename || "")
          .replace("{size}", answer.size_text).replace("{type}", answer.mime_type), "ok");
        if (answer.type === "image" || answer.type === "sticker") {
          const img = document.createElement("img");
          img.src = answer.url;
          img.alt = answer.filename || "";
          preview.appendChild(img);
        } else if (answer.type === "video" || answer.type === "audio") {
          const player = document.createElement(answer.type);
          player.src = answer.url;
          player.controls = true;
          preview.appendChild(player);
        }
        if (answer.type === "document" && filename && !filename.value) filename.value = answer.filename || "";
      };
      xhr.send(body);
    });
  }
})();
