// Keyboard-first review: every common action has a key. No network beyond this app.
(function () {
  "use strict";
  const page = document.body.dataset.page;

  function typing(event) {
    const t = event.target;
    return t && (t.tagName === "INPUT" && !["radio", "checkbox"].includes(t.type) || t.tagName === "TEXTAREA" || t.tagName === "SELECT");
  }
  function submit(id) {
    const form = document.getElementById(id);
    if (form) { form.requestSubmit ? form.requestSubmit() : form.submit(); }
  }
  function move(selector, cls, step) {
    const rows = Array.from(document.querySelectorAll(selector));
    if (!rows.length) return null;
    let i = rows.findIndex((r) => r.classList.contains(cls));
    if (i >= 0) rows[i].classList.remove(cls);
    i = Math.min(rows.length - 1, Math.max(0, i + step));
    rows[i].classList.add(cls);
    rows[i].scrollIntoView({ block: "nearest" });
    return rows[i];
  }
  function applyPreset(button) {
    const form = document.getElementById("grade");
    if (!form || !button) return;
    const d = button.dataset;
    for (const name of ["age_group", "depiction", "severity"]) {
      const value = d[name.replace("_", "")] || d[name.replace(/_(.)/g, (m, c) => c.toUpperCase())];
      form.querySelectorAll(`input[name="${name}"]`).forEach((r) => { r.checked = r.value === value; });
    }
    form.querySelector('input[name="sexual_activity"]').checked = d.sexualActivity === "1";
    form.querySelector('input[name="genital_focus"]').checked = d.genitalFocus === "1";
    form.dispatchEvent(new Event("preset"));
    document.getElementById("decide").focus();
  }
  document.querySelectorAll("button.preset").forEach((b) => b.addEventListener("click", () => applyPreset(b)));

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event) && event.key !== "Escape") return;
    const key = event.key;
    if (key === "?") { document.body.classList.toggle("help"); return; }
    if (page === "queue") {
      if (key === "j") move("tr.cluster-row", "selected", 1);
      else if (key === "k") move("tr.cluster-row", "selected", -1);
      else if (key === "Enter") {
        const row = document.querySelector("tr.cluster-row.selected form.claim");
        if (row) { event.preventDefault(); row.requestSubmit(); }
      } else if (key === "n") submit("next-form");
      return;
    }
    if (page === "cluster") {
      const focused = document.querySelector("article.item.focused");
      if (key === "j") move("article.item", "focused", 1);
      else if (key === "k") move("article.item", "focused", -1);
      else if (key === "r" && focused) { const b = focused.querySelector("button.reveal"); if (b) b.click(); }
      else if (key === "s" && focused) { const f = focused.querySelector("form.split"); if (f) f.requestSubmit(); }
      else if (key === "n") submit("next-form");
      else if (key === "p") submit("previous-form");
      else if (key === "Escape") submit("release-form");
      else if (key === "Enter") { event.preventDefault(); submit("grade"); }
      else {
        const preset = document.querySelector(`button.preset[data-key="${key}"]`);
        if (preset) { event.preventDefault(); applyPreset(preset); }
      }
    }
  });
})();
