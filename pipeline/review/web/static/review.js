// precode review page: renders the state the server derives from the project store, and sends actions.
// Every action is queued, so keys pressed quickly apply in order to the segment they were meant for.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  let state = null;        // last state from the server
  let selected = 0;        // selected proposal index on the current segment
  let shownSegment = null; // segment id on screen
  const docText = new Map(); // document id -> {text, unit, length}

  // The store's offsets count code points (Python); JavaScript strings count UTF-16 units.
  function loadedDoc(text) {
    if (!/[\uD800-\uDFFF]/.test(text)) return { text, unit: (i) => i, length: text.length };
    const map = [];
    let u = 0;
    for (const ch of text) { map.push(u); u += ch.length; }
    map.push(u);
    return { text, unit: (i) => map[i], length: map.length - 1 };
  }
  let queue = Promise.resolve();

  // -- helpers ---------------------------------------------------------------------------------------
  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k === "dataset") Object.assign(e.dataset, v);
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c);
    return e;
  }

  async function api(path, body) {
    const init = { credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.method = "POST";
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const r = await fetch(path, init);
    let data = null;
    try { data = await r.json(); } catch (_) { data = null; }
    if (!r.ok) {
      if (r.status === 409) { await load(); }
      const msg = (data && data.error) ||
        (r.status === 403 ? "Your session has ended: open the link printed by `precode serve` again."
                          : `The server answered ${r.status}.`);
      throw new Error(msg);
    }
    return data;
  }

  function enqueue(fn) {
    queue = queue.then(async () => {
      try { await fn(); } catch (e) { say(e.message || String(e), "error"); }
    });
    return queue;
  }

  function say(message, tone) {
    const s = $("status");
    s.textContent = message || "";
    s.className = "status" + (tone ? " " + tone : "");
  }

  const item = () => (state && state.item) || null;
  const proposal = () => {
    const it = item();
    if (!it || !it.proposals.length) return null;
    return it.proposals[Math.min(selected, it.proposals.length - 1)];
  };

  // -- loading and rendering -------------------------------------------------------------------------
  async function load() { render(await api("/api/state")); }
  async function post(path, body) { render(await api(path, body)); }

  function setOptions(select, values, labelAll, labels) {
    const wanted = ["", ...values].join("\u0000");
    if (select.dataset.options !== wanted) {
      select.replaceChildren(el("option", { value: "", text: labelAll }),
        ...values.map((v) => el("option", { value: v, text: (labels && labels[v]) || v })));
      select.dataset.options = wanted;
    }
  }

  function render(s) {
    state = s;
    $("project").textContent = s.project || "";
    document.title = `precode review — ${s.project || ""}`;
    $("coder-name").textContent = s.coder || "—";
    $("change-coder").hidden = s.coder_fixed || !s.coder;
    if (s.need_coder) {
      $("coder-section").hidden = false;
      $("review").hidden = true;
      $("transcript-section").hidden = true;
      $("progress-text").textContent = "";
      $("progress-bar").hidden = true;
      $("coder-input").focus();
      return;
    }
    $("coder-section").hidden = true;
    $("review").hidden = false;
    $("progress-bar").hidden = false;
    renderFilters(s);
    renderProgress(s);
    const it = s.item;
    const changed = !it || it.segment_id !== shownSegment;
    if (it) {
      const focus = s.focus ? it.proposals.findIndex((p) => p.guid === s.focus) : -1;
      if (focus >= 0) selected = focus;
      else if (changed) selected = 0;
      selected = Math.max(0, Math.min(selected, it.proposals.length - 1));
    }
    shownSegment = it ? it.segment_id : null;
    $("empty").hidden = !!it;
    $("seg-body").hidden = !it;
    $("transcript-section").hidden = !it;
    if (it) {
      renderItem(s, it);
      renderTranscript(s, it, changed);
    }
    renderPerCode(s);
    renderRecent(s);
    say(s.message, s.tone);
  }

  function renderFilters(s) {
    const o = s.options, v = s.view;
    setOptions($("f-document"), o.documents, "all documents");
    setOptions($("f-role"), o.roles, "all roles");
    setOptions($("f-flag"), o.flags, "any flag", { low_confidence: "low confidence" });
    const legend = $("flag-legend");
    if (legend && s.flag_legend && !legend.childElementCount) {
      for (const [flag, meaning] of Object.entries(s.flag_legend)) {
        legend.append(el("dt", {}, el("span", { class: `flag f-${flag}`, text: flag.replace(/_/g, " ") })), el("dd", { text: meaning }));
      }
    }
    setOptions($("f-status"), o.statuses, "any status",
      { unreviewed: "not reviewed", reviewed: "reviewed", proposed: "a proposal not decided" });
    const dl = $("code-options");
    if (dl.dataset.options !== o.codes.join("\u0000")) {
      dl.replaceChildren(...o.codes.map((c) => el("option", { value: c })));
      dl.dataset.options = o.codes.join("\u0000");
    }
    if (document.activeElement !== $("f-code")) $("f-code").value = v.code;
    $("f-document").value = v.document;
    $("f-role").value = v.role;
    $("f-flag").value = v.flag;
    $("f-status").value = v.status;
    $("f-order").value = v.order;
  }

  function renderProgress(s) {
    const p = s.progress, total = p.reviewed + p.left;
    $("progress-text").textContent = `${p.reviewed} reviewed / ${p.left} left`;
    const bar = $("progress-bar");
    bar.setAttribute("aria-valuemax", String(total));
    bar.setAttribute("aria-valuenow", String(p.reviewed));
    bar.setAttribute("aria-valuetext", `${p.reviewed} of ${total} segments reviewed`);
    $("progress-fill").style.width = total ? `${(100 * p.reviewed) / total}%` : "0%";
    const l = s.learning || {};
    $("learning").textContent = l.summary || "";
    $("learning").classList.toggle("off", !l.enabled);
  }

  function renderItem(s, it) {
    $("seg-title").replaceChildren(el("span", { text: it.speaker || "Unknown speaker" }),
      ...(it.role ? [el("span", { class: "role", text: it.role })] : []));
    const meta = [it.document_id, it.segment_id.replace(/^.*#/, "segment ")];
    if (it.time) meta.push(it.time);
    meta.push(`${s.position.index + 1} of ${s.position.total}`);
    $("seg-meta").replaceChildren(...meta.flatMap((m, i) => [
      ...(i ? [el("span", { class: "dot", "aria-hidden": "true", text: "·" })] : []), el("span", { text: m })]));
    $("question-block").hidden = !it.question;
    $("question").textContent = it.question || "";
    const showPrev = it.previous && it.previous !== it.question;
    $("prev-block").hidden = !showPrev;
    $("prev").textContent = showPrev ? it.previous : "";
    $("next-block").hidden = !it.next;
    $("next").textContent = it.next || "";
    $("seg-text").textContent = it.text;

    const list = $("proposals");
    list.replaceChildren(...it.proposals.map((p, i) => proposalRow(p, i)));
    if (!it.proposals.length) list.append(el("li", { class: "none", text: "No proposal — press + to add a code." }));
    list.setAttribute("aria-activedescendant", it.proposals.length ? `prop-${selected}` : "");

    const memo = s.pending_memo;
    $("memo-line").hidden = !memo;
    $("memo-text").textContent = memo || "";
  }

  const STATUS_LABEL = { proposed: "not decided", accepted: "accepted", rejected: "rejected", added: "added by you" };

  function proposalRow(p, i) {
    const score = p.score === null || p.score === undefined ? null : Number(p.score);
    const meter = el("span", { class: "meter", "aria-hidden": "true" }, el("span"));
    if (score !== null) meter.firstChild.style.width = `${Math.round(Math.max(0, Math.min(1, score)) * 100)}%`;
    const li = el("li", {
      id: `prop-${i}`, role: "option", "aria-selected": i === selected ? "true" : "false",
      class: `proposal st-${p.status}${i === selected ? " selected" : ""}`,
      dataset: { guid: p.guid }, title: p.description || null,
      onclick: () => { selected = i; if (state) renderItem(state, state.item); },
    },
      el("span", { class: "key", "aria-hidden": "true", text: i < 9 ? String(i + 1) : "" }),
      el("div", { class: "p-body" },
        el("div", { class: "p-line" },
          // nothing is proposed for an uncoded segment, only a category for a category-only one: no code is named as proposed
          p.status === "proposed" && p.flags.includes("uncoded")
            ? el("span", { class: "p-name abstain", text: `no code proposed · nearest: ${p.name}` })
            : p.status === "proposed" && p.flags.includes("category_only")
              ? el("strong", { class: "p-name abstain", text: `${p.category}: which code is unclear` })
              : [p.category ? el("span", { class: "p-cat", text: p.category }) : null,
                 el("strong", { class: "p-name", text: p.name })],
          el("span", { class: `badge b-${p.status}`, text: STATUS_LABEL[p.status] || p.status })),
        el("div", { class: "p-line small" },
          score !== null
            ? el("span", { class: "score" }, meter, el("span", { class: "score-num", text: score.toFixed(2), "aria-label": `score ${score.toFixed(2)}` }))
            : el("span", { class: "score muted", text: "your code" }),
          ...p.flags.map((f) => el("span", { class: `flag f-${f}`, text: f.replace(/_/g, " ") })),
          p.retired ? el("span", { class: "orphan", text: `${p.retired}: orphaned`, title: "this code is no longer in the codebook; the decision is kept" }) : null,
          p.learned === true ? el("span", { class: "how learned", text: "learned", title: "scored by the model learned from your decisions" }) : null,
          p.learned === false ? el("span", { class: "how zero-shot", text: "zero-shot", title: "too few examples yet: scored from the code's description" }) : null,
          p.evidence ? el("span", { class: "evidence", text: p.evidence }) : null),
        p.memo ? el("div", { class: "p-memo" }, el("span", { class: "memo-tag", text: "Memo" }), " ", p.memo) : null));
    return li;
  }

  function renderTranscript(s, it, changed) {
    $("transcript-doc").textContent = it.document_id;
    const doc = docText.get(it.document_id);
    const pane = $("transcript");
    if (doc === undefined) {
      pane.replaceChildren(el("p", { class: "muted", text: "Loading the transcript…" }));
      const want = it.document_id;
      api(`/api/document?${new URLSearchParams({ id: want })}`).then((d) => {
        docText.set(d.id, loadedDoc(d.text));
        if (item() && item().document_id === want) renderTranscript(state, item(), true);
      }).catch((e) => say(e.message, "error"));
      return;
    }
    const text = doc.text, n = text.length;
    const clamp = (x) => doc.unit(Math.max(0, Math.min(Number(x) || 0, doc.length)));
    const cur = { id: it.segment_id, a: clamp(it.start), b: clamp(it.end), current: true };
    // segments of the document, non-overlapping (older runs may have left overlapping ones); the current wins
    const others = s.spans.filter((sp) => sp.id !== it.segment_id)
      .map((sp) => ({ ...sp, a: clamp(sp.start), b: clamp(sp.end) }))
      .filter((sp) => sp.b > sp.a && (sp.b <= cur.a || sp.a >= cur.b))
      .sort((x, y) => x.a - y.a);
    const chosen = [];
    let end = 0;
    for (const sp of others) if (sp.a >= end) { chosen.push(sp); end = sp.b; }
    if (cur.b > cur.a) chosen.push(cur);
    chosen.sort((x, y) => x.a - y.a);
    const frag = document.createDocumentFragment();
    let pos = 0, mark = null;
    for (const sp of chosen) {
      if (sp.a < pos) continue;
      if (sp.a > pos) frag.append(text.slice(pos, sp.a));
      let node;
      if (sp.current) {
        node = el("mark", { class: "current", id: "current-span" }, text.slice(sp.a, sp.b));
        mark = node;
      } else {
        node = el("span", {
          class: `seg ${sp.reviewed ? "done" : "todo"}${sp.in_view ? " nav" : ""}`,
          dataset: { id: sp.id }, title: sp.in_view ? "Go to this segment" : null,
        }, text.slice(sp.a, sp.b));
      }
      frag.append(node);
      pos = sp.b;
    }
    if (pos < n) frag.append(text.slice(pos));
    pane.replaceChildren(frag);
    if (mark && changed) {
      pane.scrollTop = Math.max(0, mark.offsetTop - pane.clientHeight / 3);
    }
  }

  function renderPerCode(s) {
    const body = $("per-code").tBodies[0];
    const it = s.item;
    const top = it ? (it.proposals.find((p) => p.rank === 1) || {}).path : null;
    body.replaceChildren(...Object.entries(s.progress.per_code).map(([code, c]) =>
      el("tr", { class: code === top ? "current" : null },
        el("th", { scope: "row", text: code }),
        el("td", { class: "num", text: String(c.reviewed) }),
        el("td", { class: "num", text: String(c.left) }))));
    const row = body.querySelector("tr.current");
    if (row) {
      const wrap = row.closest(".table-wrap");
      const top = row.offsetTop - wrap.clientHeight / 2 + row.clientHeight / 2;
      wrap.scrollTop = Math.max(0, top);
    }
  }

  const VERB = { accept: "accepted", reject: "rejected", recode: "recoded", add: "added" };

  function renderRecent(s) {
    const ol = $("recent");
    if (!s.recent.length) {
      ol.replaceChildren(el("li", { class: "muted", text: "None yet." }));
      return;
    }
    ol.replaceChildren(...s.recent.map((d) => {
      const what = d.verdict === "recode" ? `${d.replaces} → ${d.code}` : d.code;
      const where = d.segment_id;
      return el("li", { class: `recent-item v-${d.verdict}${d.undone ? " undone" : ""}` },
        el("div", { class: "r-head" },
          el("span", { class: `badge b-${d.verdict}`, text: VERB[d.verdict] || d.verdict }),
          d.undone ? el("span", { class: "muted small", text: "undone" }) : null,
          d.in_view && !d.undone
            ? el("button", { type: "button", class: "linklike r-seg", text: where, title: "Go to this segment",
                             onclick: () => enqueue(() => post("/api/goto", { segment_id: d.segment_id })) })
            : el("span", { class: "r-seg muted", text: where })),
        el("div", { class: "r-code", text: what }),
        d.memo ? el("div", { class: "r-memo muted small", text: `Memo: ${d.memo}` }) : null);
    }));
  }

  // -- actions ---------------------------------------------------------------------------------------
  function decide(action) {
    enqueue(async () => {
      const it = item(), p = proposal();
      if (!it) return say("Nothing to review here.", "warn");
      if (!p) return say("No proposal here — + adds a code.", "warn");
      await post("/api/decide", { segment_id: it.segment_id, action, code_guid: p.guid });
    });
  }
  const noCode = () => enqueue(async () => {
    const it = item();
    if (!it) return say("Nothing to review here.", "warn");
    await post("/api/decide", { segment_id: it.segment_id, action: "none" });
  });
  const go = (body) => enqueue(() => (item() || body.segment_id ? post("/api/goto", body) : load()));
  const undo = () => enqueue(() => post("/api/undo", {}));

  function select(i) {
    const it = item();
    if (!it) return;
    if (i >= it.proposals.length) return say(`There is no proposal ${i + 1}.`, "warn");
    selected = i;
    renderItem(state, it);
    say("");
  }

  // -- the code list (recode / add) ------------------------------------------------------------------
  const picker = { action: "add", codes: null, shown: [], active: 0, segment: null, old: null, ready: null };

  // A selection inside the segment's text (the quote, or the highlighted turn in the transcript): its offsets
  // in code points into the document, or null. Both elements hold exactly the segment's text.
  function selectedSpan() {
    const it = item(), sel = window.getSelection();
    if (!it || !sel || sel.rangeCount === 0 || sel.isCollapsed) return null;
    const r = sel.getRangeAt(0);
    const box = [$("seg-text"), $("current-span")].find((e) => e && e.contains(r.startContainer) && e.contains(r.endContainer));
    if (!box) return null;
    const before = document.createRange();
    before.setStart(box, 0);
    before.setEnd(r.startContainer, r.startOffset);
    const cps = (t) => Array.from(t).length;
    const start = it.start + cps(before.toString()), end = start + cps(r.toString());
    return end > start ? { start, end, text: r.toString() } : null;
  }

  function openPicker(action) {
    const dlg = $("picker");
    if (dlg.open) return;
    picker.span = action === "add" ? selectedSpan() : null;
    picker.action = action;
    picker.codes = null;
    picker.active = 0;
    $("picker-input").value = "";
    $("picker-title").textContent = { recode: "Recode as…", edit: "Edit which code of the codebook?" }[action] || "Add a code";
    $("picker-list").replaceChildren(el("li", { class: "muted", text: "Loading codes…" }));
    dlg.showModal();
    $("picker-input").focus();
    // the list belongs to the segment on screen once the actions typed before it are done
    picker.ready = enqueue(async () => {
      const it = item(), p = proposal();
      if (!it || (action === "recode" && !p)) {
        dlg.close();
        return say(it ? "Nothing to recode — + adds a code." : "Nothing to review here.", "warn");
      }
      picker.segment = it.segment_id;
      picker.old = (action === "recode" || action === "edit") && p ? p.guid : null;
      if (action === "recode") $("picker-title").textContent = `Recode “${p.name}” as…`;
      if (picker.span) $("picker-title").textContent = `Code the selection “${picker.span.text.trim().slice(0, 60)}” as…`;
      const q = new URLSearchParams({ segment_id: it.segment_id, action, code_guid: picker.old || "" });
      const data = await api(`/api/codes?${q}`);
      picker.codes = data.codes;
      filterPicker();
    });
  }

  function filterPicker() {
    if (!picker.codes) return;
    // the same match as ReviewSession.search_codes: the query inside the code's path or description
    const q = $("picker-input").value.trim().toLocaleLowerCase();
    picker.shown = picker.codes.filter((c) => !q || c.path.toLocaleLowerCase().includes(q) ||
                                               (c.description || "").toLocaleLowerCase().includes(q));
    picker.active = Math.max(0, Math.min(picker.active, picker.shown.length - 1));
    const list = $("picker-list");
    list.replaceChildren(...picker.shown.map((c, i) => el("li", {
      id: `code-${i}`, role: "option", "aria-selected": i === picker.active ? "true" : "false",
      class: i === picker.active ? "active" : null,
      onmousedown: (e) => e.preventDefault(),
      onclick: () => { picker.active = i; pick(); },
    },
      el("span", { class: "c-path" },
        c.category ? el("span", { class: "p-cat", text: c.category }) : null,
        el("strong", { text: c.name })),
      c.description ? el("span", { class: "c-desc", text: c.description }) : null)));
    const typed = $("picker-input").value.trim();
    if (!picker.shown.length && picker.action === "add" && typed) {
      list.append(el("li", { id: "code-new", class: "active", onmousedown: (e) => e.preventDefault(), onclick: () => pick(),
                             text: `Create “${typed}” as a new code (in vivo: this segment is its first example)` }));
    } else if (!picker.shown.length) list.append(el("li", { class: "muted", text: "No code matches." }));
    $("picker-input").setAttribute("aria-activedescendant", picker.shown.length ? `code-${picker.active}` : "");
    const act = $(`code-${picker.active}`);
    if (act) act.scrollIntoView({ block: "nearest" });
  }

  async function pick() {
    await picker.ready;
    if (!$("picker").open) return;
    filterPicker();
    const code = picker.shown[picker.active];
    const typed = $("picker-input").value.trim();
    if (!code && picker.action === "add" && typed) {
      $("picker").close();
      enqueue(() => post("/api/code", { segment_id: picker.segment, name: typed }));
      return;
    }
    if (!code) return;
    $("picker").close();
    if (picker.action === "edit") { openCodeEdit(code, picker.codes); return; }
    if (picker.span) {
      const { start, end } = picker.span;
      enqueue(() => post("/api/span", { segment_id: picker.segment, start, end, code_guid: code.guid }));
      return;
    }
    const body = { segment_id: picker.segment, action: picker.action, new_guid: code.guid };
    if (picker.action === "recode") body.code_guid = picker.old;
    enqueue(() => post("/api/decide", body));
  }

  $("picker-input").addEventListener("input", () => { picker.active = 0; filterPicker(); });
  $("picker-input").addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const n = picker.shown.length;
      if (n) picker.active = (picker.active + (e.key === "ArrowDown" ? 1 : -1) + n) % n;
      filterPicker();
    } else if (e.key === "Enter") {
      e.preventDefault();
      pick();
    }
  });
  $("picker").addEventListener("close", () => { focusSegment(); });

  // -- codebook edits: rename, merge, retire --------------------------------------------------------------
  const editing = { code: null };
  function openCodeEdit(code, codes) {
    editing.code = code;
    $("edit-title").textContent = `Edit code “${code.path}”`;
    $("edit-name").value = code.name;
    $("edit-into").replaceChildren(...codes.filter((c) => c.guid !== code.guid)
      .map((c) => el("option", { value: c.guid, text: c.path })));
    $("edit-merge").disabled = codes.length < 2;
    $("code-edit").showModal();
    $("edit-name").focus();
    $("edit-name").select();
  }
  function editCode(body) {
    const code_guid = editing.code.guid;
    $("code-edit").close();
    enqueue(() => post("/api/codebook", { code_guid, ...body }));
  }
  $("edit-rename-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const name = $("edit-name").value.trim();
    if (!name || name === editing.code.name) { $("code-edit").close(); return say("Name unchanged."); }
    editCode({ action: "rename", name });
  });
  $("edit-merge-form").addEventListener("submit", (e) => {
    e.preventDefault();
    if ($("edit-into").value) editCode({ action: "merge", into_guid: $("edit-into").value });
  });
  $("edit-retire").addEventListener("click", () => {
    if (window.confirm(`Retire “${editing.code.path}”? It is no longer offered; its decisions are kept, marked orphaned.`)) {
      editCode({ action: "retire" });
    }
  });
  $("edit-cancel").addEventListener("click", () => { $("code-edit").close(); say("Codebook unchanged."); });
  $("code-edit").addEventListener("close", () => focusSegment());

  // -- memo ------------------------------------------------------------------------------------------
  function openMemo() {
    enqueue(async () => {
      const it = item();
      if (!it) return say("Nothing to review here.", "warn");
      $("memo-input").value = state.pending_memo || "";
      $("memo-dialog").dataset.segment = it.segment_id;
      $("memo-dialog").showModal();
      $("memo-input").focus();
    });
  }
  $("memo-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const segment_id = $("memo-dialog").dataset.segment, memo = $("memo-input").value;
    $("memo-dialog").close();
    enqueue(() => post("/api/memo", { segment_id, memo }));
  });
  $("memo-input").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("memo-form").requestSubmit(); }
  });
  $("memo-cancel").addEventListener("click", () => { $("memo-dialog").close(); say("Memo unchanged."); });
  $("memo-dialog").addEventListener("close", () => focusSegment());

  // -- coder -----------------------------------------------------------------------------------------
  $("coder-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const coder = $("coder-input").value;
    enqueue(async () => { await post("/api/coder", { coder }); focusSegment(); });
  });
  $("change-coder").addEventListener("click", () => {
    $("coder-input").value = (state && state.coder) || "";
    $("coder-section").hidden = false;
    $("coder-input").focus();
  });

  // -- filters ---------------------------------------------------------------------------------------
  function applyFilters() {
    const body = {
      code: $("f-code").value, document: $("f-document").value, role: $("f-role").value,
      flag: $("f-flag").value, status: $("f-status").value, order: $("f-order").value,
    };
    enqueue(() => post("/api/view", body));
  }
  function resetFilters() {
    enqueue(() => post("/api/view", { code: "", document: "", role: "", flag: "", status: "", order: "document" }));
  }
  $("filters").addEventListener("submit", (e) => { e.preventDefault(); applyFilters(); });
  for (const id of ["f-document", "f-role", "f-flag", "f-status", "f-order"]) $(id).addEventListener("change", applyFilters);
  $("f-code").addEventListener("change", applyFilters);
  $("f-reset").addEventListener("click", resetFilters);
  $("empty-reset").addEventListener("click", resetFilters);

  // -- buttons and keys ------------------------------------------------------------------------------
  $("b-accept").addEventListener("click", () => decide("accept"));
  $("b-reject").addEventListener("click", () => decide("reject"));
  $("b-none").addEventListener("click", () => noCode());
  $("b-recode").addEventListener("click", () => openPicker("recode"));
  $("b-add").addEventListener("click", () => openPicker("add"));
  $("b-memo").addEventListener("click", openMemo);
  $("b-edit").addEventListener("click", () => openPicker("edit"));
  $("b-prev").addEventListener("click", () => go({ step: -1 }));
  $("b-next").addEventListener("click", () => go({ step: 1 }));
  $("b-unreviewed").addEventListener("click", () => go({ unreviewed: true }));
  $("b-undo").addEventListener("click", undo);
  $("transcript").addEventListener("click", (e) => {
    const t = e.target.closest(".seg.nav");
    if (t) go({ segment_id: t.dataset.id });
  });

  function focusSegment() { $("segment").focus({ preventScroll: true }); }

  document.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    if (document.querySelector("dialog[open]")) return;
    const t = e.target;
    if (t instanceof HTMLElement && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName))) {
      if (e.key === "Escape") { t.blur(); focusSegment(); }
      return;
    }
    if (!state || state.need_coder) return;
    const k = e.key;
    const handled = () => e.preventDefault();
    if (k === "a") { handled(); decide("accept"); }
    else if (k === "r") { handled(); decide("reject"); }
    else if (k === "x") { handled(); noCode(); }
    else if (k === "c") { handled(); openPicker("recode"); }
    else if (k === "+" || k === "=") { handled(); openPicker("add"); }
    else if (k === "m") { handled(); openMemo(); }
    else if (k === "e") { handled(); openPicker("edit"); }
    else if (k === "s" || k === "n" || k === "ArrowRight") { handled(); go({ step: 1 }); }
    else if (k === "p" || k === "ArrowLeft") { handled(); go({ step: -1 }); }
    else if (k === "Tab" && !e.shiftKey && t === $("segment")) { handled(); go({ unreviewed: true }); }
    else if (k === "u") { handled(); undo(); }
    else if (/^[1-9]$/.test(k)) { handled(); enqueue(async () => select(Number(k) - 1)); }
    else if (k === "ArrowDown" || k === "ArrowUp") {
      const it = item();
      if (it && it.proposals.length && !(t instanceof HTMLElement && t.id === "transcript")) {
        handled();
        const n = it.proposals.length;
        select((selected + (k === "ArrowDown" ? 1 : -1) + n) % n);
      }
    } else if (k === "Escape") { say(""); }
  });

  enqueue(async () => { await load(); if (state && !state.need_coder) focusSegment(); });
})();
