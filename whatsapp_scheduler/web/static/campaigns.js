// whatsapp-scheduler dashboard: the campaign wizard's live count and preview, and a campaign's
// funnel chart that follows its messages (Server-Sent Events). No build step; the pages work
// without it (the wizard's "Check" shows the same count and the funnel's numbers are a table).
"use strict";
(function () {
  const csrf = document.body.dataset.csrf || "";

  // -- the wizard: text or template, the parameter rows, the live count and preview ---------
  function wizard() {
    const form = document.getElementById("wizard");
    if (!form) return;
    const output = document.getElementById("audience-count");
    const list = document.getElementById("preview-list");
    const template = document.getElementById("template");
    const rows = Array.from(document.querySelectorAll("#params [data-param]"));
    const kinds = () => (form.querySelector("input[name=kind]:checked") || {}).value || "text";
    const showKind = () => {
      form.querySelectorAll(".part[data-kind]").forEach((part) => {
        part.hidden = part.dataset.kind !== kinds();
      });
    };
    const showRows = () => {
      const chosen = template && template.options[template.selectedIndex];
      const wanted = chosen && chosen.dataset.variables !== undefined
        ? Number(chosen.dataset.variables) : rows.length;
      rows.forEach((row, i) => { row.hidden = i >= wanted; });
      document.getElementById("params").hidden = wanted === 0;
    };
    let timer = null;
    let asked = 0;
    const senderInput = document.getElementById("sender");
    let pickedFor = senderInput ? senderInput.value : "";
    // Another sender has another catalogue: the picker is filled again with its templates.
    const fillTemplates = (templates) => {
      if (!template) return;
      const keep = template.value;
      const first = template.options[0];
      template.replaceChildren(first, ...templates.map((p) => {
        const option = document.createElement("option");
        option.value = p.value;
        option.textContent = p.label;
        option.dataset.variables = String(p.variables.length);
        return option;
      }));
      template.value = templates.some((p) => p.value === keep) ? keep : "";
      showRows();
    };
    const refresh = async () => {
      const mine = ++asked;
      const body = new FormData(form);
      const senderNow = senderInput ? senderInput.value : "";
      if (senderNow !== pickedFor) body.append("want_templates", "1");
      // Hidden parameter rows are not the template's: leave them out, as the server does.
      const fields = body.getAll("param_field"), keys = body.getAll("param_key"),
        defaults = body.getAll("param_default");
      ["param_field", "param_key", "param_default"].forEach((n) => body.delete(n));
      rows.forEach((row, i) => {
        if (row.hidden) return;
        body.append("param_field", fields[i]);
        body.append("param_key", keys[i]);
        body.append("param_default", defaults[i]);
      });
      let answer = null;
      try {
        const response = await fetch(form.dataset.countSource, {
          method: "POST", body: body, credentials: "same-origin", headers: {"X-CSRF-Token": csrf},
        });
        answer = await response.json();
      } catch (e) { return; /* offline for a moment: the next keystroke asks again */ }
      if (mine !== asked) return;  // an older answer that came late
      if (answer.error) {
        output.textContent = answer.error;
        output.className = "bad";
        return;
      }
      if (answer.templates) {
        pickedFor = senderNow;
        fillTemplates(answer.templates);
      }
      output.textContent = answer.text;
      output.className = "good";
      output.dataset.count = String(answer.count);
      list.replaceChildren(...answer.sample.map((s) => {
        const li = document.createElement("li");
        li.dataset.phone = s.phone;
        const who = document.createElement("strong");
        who.textContent = (s.name ? s.name + " " : "") + s.phone;
        const said = document.createElement(s.missing ? "em" : "span");
        said.className = s.missing ? "missing" : "text";
        said.textContent = s.missing || s.text;
        li.append(who, ": ", said);
        return li;
      }));
    };
    const soon = () => {
      clearTimeout(timer);
      output.textContent = output.dataset.counting;
      timer = setTimeout(refresh, 250);
    };
    form.addEventListener("input", soon);
    form.addEventListener("change", (event) => {
      if (event.target.name === "kind") showKind();
      if (event.target === template) showRows();
      soon();
    });
    showKind();
    showRows();
    refresh();
  }

  // -- a campaign's funnel, live --------------------------------------------------------
  function funnel() {
    const section = document.getElementById("funnel");
    const source = document.getElementById("funnel-data");
    const canvas = document.getElementById("funnel-chart");
    if (!section || !source) return;
    let view = JSON.parse(source.textContent);
    window.__funnelView = view;  // read by the browser tests, with the chart
    const words = document.getElementById("funnel-words").dataset;
    const data = (v) => ({
      labels: v.steps.map((s) => s.label),
      datasets: [{data: v.steps.map((s) => s.count), backgroundColor: v.steps.map((s) => s.color)}],
    });
    let chart = null;
    if (canvas && window.Chart) {
      chart = new window.Chart(canvas, {
        type: "bar",
        data: data(view),
        options: {
          indexAxis: "y", responsive: true, maintainAspectRatio: false, animation: false,
          scales: {x: {beginAtZero: true, ticks: {precision: 0}}},
          plugins: {legend: {display: false}},
        },
      });
      window.__funnelChart = chart;  // read by the browser tests
    }
    const item = (count, text, code, attr) => {
      const li = document.createElement("li");
      if (attr) li.dataset[attr[0]] = attr[1];
      const strong = document.createElement("strong");
      strong.textContent = String(count);
      li.append(strong, " ");
      if (code !== null && code !== undefined) {
        const c = document.createElement("code");
        c.textContent = String(code);
        li.append(c, " ");
      }
      li.append(text);
      return li;
    };
    const empty = (text) => {
      const li = document.createElement("li");
      li.className = "empty";
      li.textContent = text;
      return li;
    };
    const render = () => {
      if (chart) {
        chart.data = data(view);
        chart.update();
      }
      view.steps.forEach((s) => {
        const cell = document.querySelector('#funnel-numbers tr[data-status="' + s.status + '"] .n');
        if (cell) cell.textContent = String(s.count);
      });
      // A control the campaign's status no longer allows goes (Pause once it completed, say).
      document.querySelectorAll("[data-while]").forEach((el) => {
        el.hidden = !el.dataset.while.split(" ").includes(view.status);
      });
      const status = document.getElementById("campaign-status");
      if (status) {
        status.dataset.campaignStatus = view.status;
        status.textContent = view.status_label;
      }
      document.getElementById("first-sent").textContent = view.first_sent_at || "–";
      document.getElementById("last-sent").textContent = view.last_sent_at || "–";
      document.getElementById("replies").textContent = view.replies;
      document.getElementById("median-read").textContent = view.median_read || "–";
      const failed = document.getElementById("funnel-failed");
      failed.replaceChildren(...(view.failed.length
        ? view.failed.map((f) => item(f.count, f.text, f.code, ["code", f.code === null ? "" : String(f.code)]))
        : [empty(words.noFailures)]));
      const cancelled = document.getElementById("funnel-cancelled");
      cancelled.replaceChildren(...(view.cancelled.length
        ? view.cancelled.map((r) => item(r.count, r.label, null, ["reason", r.reason]))
        : [empty(words.noneCancelled)]));
    };
    if (!window.EventSource) return;
    const live = document.getElementById("live");
    if (live) live.hidden = false;
    const stream = new EventSource(section.dataset.source);
    // Each stream ends after a few seconds and the browser reconnects (`retry: 1000`): only a
    // connection still down after 4 s is shown as offline, as on the other live pages.
    let down = null;
    stream.onopen = () => {
      clearTimeout(down);
      down = null;
      if (live) live.classList.add("on");
    };
    stream.onerror = () => {
      if (down === null) down = setTimeout(() => live && live.classList.remove("on"), 4000);
    };
    stream.addEventListener("funnel", (event) => {
      view = JSON.parse(event.data);
      window.__funnelView = view;
      render();
      const announce = document.getElementById("live-announce");
      if (announce) {
        announce.textContent = view.steps.filter((s) => s.count).map((s) => s.label + ": " + s.count).join(", ");
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    wizard();
    funnel();
  });
})();
