// memberflow console: the two live parts, in plain JavaScript (no library, no build step). Every page works
// without it; this only saves a reload. No inline scripts: the markup carries data-* attributes.
"use strict";

function livePreview(select) {
  const target = document.getElementById(select.dataset.previewTarget);
  const update = async () => {
    if (!select.value) { target.textContent = ""; return; }
    target.textContent = "counting…";
    try {
      const response = await fetch(select.dataset.previewUrl.replace("{id}", encodeURIComponent(select.value)),
        { credentials: "same-origin", headers: { Accept: "application/json" } });
      const body = await response.json();
      target.textContent = body.count === null ? "unknown segment" : `${body.count.toLocaleString()} members match now`;
    } catch (error) {
      target.textContent = "could not count";
    }
  };
  select.addEventListener("change", update);
}

function liveProgress(bar) {
  const fill = bar.querySelector("span");
  const percent = document.getElementById("progress-percent");
  const status = document.getElementById("campaign-status");
  let seenStatus = status ? status.textContent : "";
  const poll = async () => {
    try {
      const response = await fetch(bar.dataset.progressUrl, { credentials: "same-origin" });
      if (!response.ok) return;
      const p = await response.json();
      fill.style.width = `${p.percent}%`;
      bar.setAttribute("aria-valuenow", String(p.percent));
      if (percent) percent.textContent = `${p.percent}%`;
      if (p.status !== seenStatus) {
        // The status changed (e.g. completed): reload for the buttons and results that go with it.
        seenStatus = p.status;
        window.location.reload();
        return;
      }
      if (!p.finished) window.setTimeout(poll, 1000);
    } catch (error) {
      window.setTimeout(poll, 3000);
    }
  };
  if (bar.dataset.finished !== "true") window.setTimeout(poll, 500);
}

function optionsFollowType(select) {
  // The options rows only matter for the select types; without this script they are always shown.
  const selectTypes = select.dataset.optionsFor.split(" ");
  const rows = select.form.querySelectorAll("[data-options-row]");
  const options = select.form.querySelector("textarea[name=options]");
  const update = () => {
    const shown = selectTypes.includes(select.value);
    rows.forEach((row) => { row.hidden = !shown; });
    options.disabled = !shown; // a hidden list is not sent: other types take no options
  };
  select.addEventListener("change", update);
  update();
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("select[data-preview-url]").forEach(livePreview);
  document.querySelectorAll("[data-progress-url]").forEach(liveProgress);
  document.querySelectorAll("select[data-options-for]").forEach(optionsFollowType);
});
