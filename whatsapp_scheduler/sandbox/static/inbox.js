// Sandbox inbox: follows /_sandbox/events (SSE) and drives the control API. No build step.
"use strict";
(() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  const MAX_ROWS = 300;
  let selected = null;

  const clone = (id) => $("#" + id).content.firstElementChild.cloneNode(true);
  const fmtTime = (ts) => {
    const d = new Date(Number(ts) * 1000);
    return isNaN(d) ? "" : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  };
  const stampTimes = (root) => $$("time[data-ts]", root).forEach((t) => {
    if (!t.textContent) t.textContent = fmtTime(t.dataset.ts);
  });
  // The control API's token (the page's own; another site cannot read it).
  const token = document.querySelector('meta[name="sandbox-token"]').content;
  const api = async (method, url, body) => {
    const resp = await fetch(url, {
      method, headers: { "Content-Type": "application/json", "X-Sandbox-Token": token },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) throw new Error(data.error || resp.statusText);
    return data;
  };
  const say = (id, text) => { const o = $("#" + id); if (o) o.textContent = text; };

  // ---- tabs and chat selection ---------------------------------------------------------
  $$(".tabs button").forEach((b) => b.addEventListener("click", () => {
    $$(".tabs button").forEach((x) => x.classList.toggle("active", x === b));
    $$(".panel").forEach((p) => p.classList.toggle("active", p.id === b.dataset.tab));
  }));

  function select(wa) {
    selected = wa;
    $$(".thread").forEach((t) => { t.hidden = t.dataset.wa !== wa; });
    $$(".chat-item").forEach((c) => {
      c.classList.toggle("selected", c.dataset.wa === wa);
      if (c.dataset.wa === wa) c.classList.remove("unread");
    });
    $("#chats").classList.add("viewing");
    const box = $(`.thread[data-wa="${wa}"] .messages`);
    if (box) box.scrollTop = box.scrollHeight;
  }

  function wireThread(thread) {
    $(".back", thread).addEventListener("click", () => $("#chats").classList.remove("viewing"));
    $("form.reply", thread).addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const input = ev.target.elements.text;
      await api("POST", "/_sandbox/inbound", { from: ev.target.dataset.wa, text: input.value });
      input.value = "";
    });
  }

  function conversation(wa) {
    let thread = $(`.thread[data-wa="${wa}"]`);
    if (thread) return thread;
    thread = clone("tpl-thread");
    thread.dataset.wa = wa;
    $(".reply", thread).dataset.wa = wa;
    $(".who", thread).textContent = "+" + wa;
    $(".avatar", thread).textContent = wa.slice(-2);
    $("#threads").appendChild(thread);
    wireThread(thread);
    const li = clone("tpl-chat-item");
    const button = $(".chat-item", li);
    button.dataset.wa = wa;
    $(".who", button).textContent = "+" + wa;
    $(".avatar", button).textContent = wa.slice(-2);
    button.addEventListener("click", () => select(wa));
    $("#chat-list").prepend(li);
    $("#no-chats").hidden = true;
    if (!selected) select(wa);
    return thread;
  }

  function setTick(tick, m) {
    tick.dataset.status = m.status;
    tick.dataset.code = m.error_code || "";
    tick.title = m.status + (m.error_code ? ` (${m.error_code}) ${m.error_title || ""}` : "");
  }

  const numberLabels = {};  // phone_number_id -> label ("default", "branch")

  // A media, location or interactive message's link and buttons, as the server's macro
  // renders them: text only through textContent, and a link only if it is http(s).
  function showAttachment(box, a) {
    if (!box || !a) return;
    const own = a.link && /^\/_sandbox\/media\/[0-9]+$/.test(a.link);  // an upload here
    if (own && a.inline) {  // the stand-in's own origin: shown in place (the CSP allows it)
      const tag = a.inline === "video" ? "video" : a.inline === "audio" ? "audio" : "img";
      const shown = document.createElement(tag);
      shown.className = "att-inline";
      shown.src = a.link;
      if (tag === "img") shown.alt = a.label || "";
      else shown.controls = true;
      box.appendChild(shown);
    }
    if (a.link && (own || /^https?:\/\//.test(a.link))) {
      const link = document.createElement("a");
      link.className = "att-link";
      link.href = a.link;
      link.rel = "noopener noreferrer";
      link.target = "_blank";
      link.textContent = a.label || a.link;
      box.appendChild(link);
    }
    if (a.buttons && a.buttons.length) {
      const list = document.createElement("ul");
      list.className = "att-buttons";
      list.setAttribute("aria-label", "the message's buttons: press one as the user");
      for (const b of a.buttons) {
        const item = document.createElement("li");
        const press = document.createElement("button");
        press.type = "button";
        press.className = "att-press";
        press.dataset.reply = b.reply;
        press.dataset.id = b.id;
        press.dataset.title = b.title;
        press.dataset.description = b.description || "";
        press.textContent = b.title;
        item.appendChild(press);
        list.appendChild(item);
      }
      box.appendChild(list);
    }
  }

  // Pressing a button of a message, as the user: Meta's interactive reply webhook, with the
  // message pressed as its context (docs/sandbox.md).
  document.addEventListener("click", async (ev) => {
    const press = ev.target.closest ? ev.target.closest(".att-press") : null;
    if (!press) return;
    const bubble = press.closest(".bubble");
    const thread = press.closest(".thread");
    if (!bubble || !thread) return;
    const reply = { type: press.dataset.reply, id: press.dataset.id, title: press.dataset.title };
    if (press.dataset.description) reply.description = press.dataset.description;
    await api("POST", "/_sandbox/inbound", {
      from: thread.dataset.wa, text: press.dataset.title, reply, context: bubble.dataset.wamid,
    });
  });

  function addMessage(m) {
    const thread = conversation(m.wa_id);
    const bubble = clone("tpl-bubble");
    bubble.className = "bubble " + m.direction;
    bubble.dataset.wamid = m.wamid;
    $(".text", bubble).textContent = m.text;
    showAttachment($(".attachment", bubble), m.attachment);
    $(".kind", bubble).textContent = m.type;
    $(".cb", bubble).textContent = m.callback_data || "";
    const num = $(".num", bubble);  // which business number sent it (or it was written to)
    num.textContent = m.phone_number_id ? (numberLabels[m.phone_number_id] || m.phone_number_id) : "";
    num.title = "business number " + (m.phone_number_id || "");
    const t = $("time", bubble);
    t.dataset.ts = m.at;
    t.textContent = fmtTime(m.at);
    setTick($(".tick", bubble), m);
    const box = $(".messages", thread);
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    box.appendChild(bubble);
    while (box.children.length > 500) box.firstElementChild.remove();
    if (atBottom) box.scrollTop = box.scrollHeight;
    const item = $(`.chat-item[data-wa="${m.wa_id}"]`);
    if (item) {
      $(".preview", item).textContent = m.text;
      if (m.wa_id !== selected) item.classList.add("unread");
      const li = item.closest("li");
      if (li && li !== $("#chat-list").firstElementChild) $("#chat-list").prepend(li);
    }
  }

  function updateStatus(s) {
    const bubble = document.querySelector(`.bubble[data-wamid="${CSS.escape(s.wamid)}"]`);
    if (bubble) setTick($(".tick", bubble), s);
  }

  function addRow(tbodyId, tplId, fill) {
    const row = clone(tplId);
    fill(row);
    stampTimes(row);
    const body = $("#" + tbodyId);
    body.prepend(row);
    while (body.children.length > MAX_ROWS) body.lastElementChild.remove();
  }

  function addRequest(r) {
    addRow("request-log", "tpl-request", (row) => {
      row.className = r.status === 200 ? "ok" : "err";
      $("time", row).dataset.ts = r.at;
      $(".st", row).textContent = r.status;
      $(".to", row).textContent = r.to || "";
      $(".res", row).textContent = r.summary;
      $(".fault", row).textContent = r.fault || "";
    });
  }

  function addHook(h) {
    addRow("hook-log", "tpl-hook", (row) => {
      row.className = h.status === 200 ? "ok" : "err";
      $("time", row).dataset.ts = h.at;
      $(".st", row).textContent = h.status !== null ? h.status : (h.error || "");
      $(".att", row).textContent = h.attempt;
      $(".car", row).textContent = (h.carries || []).join(", ");
    });
  }

  // ---- control forms -------------------------------------------------------------------
  const sections = { "/_sandbox/faults": "faults", "/_sandbox/limits": "limits", "/_sandbox/webhooks": "webhooks" };

  function fillForms(state) {
    $$("form.knobs[data-endpoint]").forEach((form) => {
      const values = state[sections[form.dataset.endpoint]] || {};
      $$("[name]", form).forEach((input) => {
        const [a, b] = input.name.split(".");
        const v = b ? (values[a] || {})[b] : values[a];
        if (input.type === "checkbox") input.checked = Boolean(v);
        else input.value = v === null || v === undefined ? "" : v;
      });
    });
    const rules = (state.faults && state.faults.rules) || [];
    $("#rules").replaceChildren(...rules.map((r) => {
      const li = document.createElement("li");
      li.textContent = `#${r.code} ${r.asynchronous ? "async" : "sync"}` +
        (r.remaining !== null ? `, ${r.remaining} left` : "") +
        (r.recipient ? `, to ${r.recipient}` : "") + (r.probability < 1 ? `, p=${r.probability}` : "");
      return li;
    }));
  }

  function readValue(input) {
    const type = input.dataset.type || "text";
    if (type === "bool") return input.checked;
    const raw = input.value.trim();
    if (type.endsWith("?") && raw === "") return null;
    if (type.startsWith("number")) return Number(raw);
    if (type === "int") return parseInt(raw, 10);
    return raw;
  }

  $$("form.knobs[data-endpoint]").forEach((form) => form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = {};
    $$("[name]", form).forEach((input) => {
      const [a, b] = input.name.split(".");
      const v = readValue(input);
      if (!b) body[a] = v;
      else if (a === "pair_rate" && b === "per_second" && v === null) body.pair_rate = null;
      else if (body[a] !== null) body[a] = Object.assign(body[a] || {}, { [b]: v });
    });
    try { fillForms(await api("PUT", form.dataset.endpoint, body)); say("controls-result", "applied"); }
    catch (err) { say("controls-result", "refused: " + err.message); }
  }));

  $("#rule-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target.elements;
    const rule = { code: parseInt(f.code.value, 10), asynchronous: f.asynchronous.checked };
    if (f.count.value) rule.count = parseInt(f.count.value, 10);
    if (f.recipient.value.trim()) rule.recipient = f.recipient.value.trim();
    if (f.probability.value) rule.probability = Number(f.probability.value);
    try { fillForms(await api("POST", "/_sandbox/faults/rules", rule)); say("controls-result", "rule added"); }
    catch (err) { say("controls-result", "refused: " + err.message); }
  });
  $("#clear-rules").addEventListener("click", async () => fillForms(await api("DELETE", "/_sandbox/faults/rules")));
  $("#reset").addEventListener("click", async () => {
    await api("POST", "/_sandbox/reset");
    location.reload();
  });
  $("#handshake").addEventListener("click", async () => {
    const r = await api("POST", "/_sandbox/webhooks/handshake", {});
    say("handshake-result", r.ok ? `verified (${r.url})` : `failed: ${r.error || "HTTP " + r.status}`);
  });
  $("#new-chat").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target.elements;
    try {
      const r = await api("POST", "/_sandbox/inbound", { from: f.from.value, text: f.text.value });
      f.text.value = "";
      select(r.wa_id);
    } catch (err) { alert(err.message); }
  });

  // ---- start ---------------------------------------------------------------------------
  $$(".thread").forEach(wireThread);
  $$(".chat-item").forEach((c) => c.addEventListener("click", () => select(c.dataset.wa)));
  stampTimes(document);
  const initial = JSON.parse($("#initial-state").textContent);
  Object.assign(numberLabels, initial.numbers || {});
  fillForms(initial);
  const first = $(".chat-item");
  if (first) { select(first.dataset.wa); $("#chats").classList.remove("viewing"); }

  const live = $("#live");
  const source = new EventSource("/_sandbox/events");
  source.addEventListener("hello", () => { live.textContent = "live"; live.className = "live on"; });
  source.onerror = () => { live.textContent = "reconnecting…"; live.className = "live off"; };
  const on = (name, fn) => source.addEventListener(name, (ev) => fn(JSON.parse(ev.data)));
  on("message", addMessage);
  on("status", updateStatus);
  on("request", addRequest);
  on("webhook", addHook);
  on("settings", fillForms);
})();
