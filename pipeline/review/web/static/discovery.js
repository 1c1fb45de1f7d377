// The discovery page: each action is one JSON POST (same origin, session cookie), then the page reloads
// from the store. The server renders everything shown; this script only sends what the researcher did.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);

  function say(message, tone) {
    const s = $("status");
    if (!s) return;
    s.textContent = message || "";
    s.className = "status" + (tone ? " " + tone : "");
  }

  async function send(path, body) {
    const r = await fetch(path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    });
    let data = null;
    try { data = await r.json(); } catch (_) { data = null; }
    if (!r.ok) throw new Error((data && data.error) || `The server answered ${r.status}.`);
    return data;
  }

  async function act(path, body, buttons) {
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const data = await send(path, body);
      sessionStorage.setItem("precode-discovery-message", (data && data.message) || "Saved");
      location.reload();
    } catch (e) {
      say(e.message || String(e), "error");
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  function picked() {
    return Array.from(document.querySelectorAll("input.pick:checked")).map((c) => c.value);
  }

  function updateMerge() {
    const ids = picked();
    const button = $("merge");
    if (!button) return;
    button.disabled = ids.length < 2;
    $("merge-count").textContent = ids.length < 2 ? "Tick two or more topics to merge them into one code."
      : `${ids.length} topics ticked.`;
    const name = $("merge-name");
    if (ids.length && !name.dataset.touched) {
      const first = document.querySelector(`section.topic[data-id="${ids[0]}"] input.rename`);
      name.value = first ? first.value : "";
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const done = sessionStorage.getItem("precode-discovery-message");
    if (done) { say(done, "ok"); sessionStorage.removeItem("precode-discovery-message"); }

    const coderForm = $("coder-form");
    if (coderForm) {
      coderForm.addEventListener("submit", (ev) => {
        ev.preventDefault();
        act("/api/coder", { coder: $("coder-input").value }, Array.from(coderForm.querySelectorAll("button")));
      });
    }

    document.querySelectorAll("form.actions").forEach((form) => {
      const id = form.dataset.id;
      const buttons = Array.from(form.querySelectorAll("button"));
      const memo = () => form.querySelector("input.memo").value;
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        act("/api/discovery/accept", { id, name: form.querySelector("input.rename").value, memo: memo() }, buttons);
      });
      form.querySelector("button.reject").addEventListener("click", () => {
        act("/api/discovery/reject", { id, memo: memo() }, buttons);
      });
    });

    document.querySelectorAll("input.pick").forEach((c) => c.addEventListener("change", updateMerge));
    const mergeForm = $("merge-form");
    if (mergeForm) {
      $("merge-name").addEventListener("input", (ev) => { ev.target.dataset.touched = "1"; });
      mergeForm.addEventListener("submit", (ev) => {
        ev.preventDefault();
        const ids = picked();
        if (ids.length < 2) return;
        act("/api/discovery/merge", { ids, name: $("merge-name").value }, [$("merge")]);
      });
    }
  });
})();
