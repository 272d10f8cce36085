// Mounts the rule builder into #rule-builder with the page's boot data (#rule-builder-data), and switches the
// page's two tabs: the builder and the Advanced (JSON) form. Switching carries the draft across, so either
// tab can finish what the other started.
import { createRoot } from "react-dom/client";
import { useState } from "react";
import { loadCatalog } from "../shared/catalog.js";
import { RuleBuilder } from "./RuleBuilder.jsx";
import { toDefinition } from "./draft.js";
import "../shared/builder.css";
import "./rules.css";

const mount = document.getElementById("rule-builder");
const data = document.getElementById("rule-builder-data");
let latest = null;

function Editor({ boot, catalog, reset }) {
  return (
    <RuleBuilder
      key={reset.key}
      ruleId={boot.rule_id}
      initial={reset.draft}
      catalog={catalog}
      onDraftChange={(draft) => {
        latest = draft;
      }}
    />
  );
}

function Root({ boot, catalog }) {
  const [reset, setReset] = useState({ key: 0, draft: boot.definition });
  tabs((json) => {
    // Back from the JSON tab: the builder takes the typed definition if it is a JSON object.
    try {
      const parsed = JSON.parse(json);
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
        setReset((r) => ({ key: r.key + 1, draft: { ...parsed, enabled: parsed.enabled ?? latest?.enabled } }));
      }
    } catch {
      // Not JSON: the builder keeps its draft; the JSON form says what is wrong when it is submitted.
    }
  });
  return <Editor boot={boot} catalog={catalog} reset={reset} />;
}

let wired = false;
function tabs(onBackToBuilder) {
  tabs.onBack = onBackToBuilder;
  if (wired) return;
  wired = true;
  const list = document.querySelector("[data-rule-tabs]");
  const textarea = document.getElementById("definition");
  if (!list) return;
  const show = (which, carry) => {
    for (const name of ["builder", "json"]) {
      const tab = document.getElementById(`tab-${name}`);
      tab.setAttribute("aria-selected", String(name === which));
      tab.tabIndex = name === which ? 0 : -1;
      document.getElementById(`panel-${name}`).hidden = name !== which;
    }
    if (!carry || !textarea) return;
    if (which === "json" && latest) textarea.value = JSON.stringify(toDefinition(latest), null, 2);
    if (which === "builder") tabs.onBack(textarea.value);
  };
  list.hidden = false;
  list.addEventListener("click", (event) => {
    const tab = event.target.closest('[role="tab"]');
    if (tab && tab.getAttribute("aria-selected") !== "true") show(tab.id.replace("tab-", ""), true);
  });
  show(list.dataset.initial === "json" ? "json" : "builder", false);
}

if (mount && data) {
  const boot = JSON.parse(data.textContent);
  loadCatalog().then(
    (catalog) => createRoot(mount).render(<Root boot={boot} catalog={catalog} />),
    (failure) => {
      mount.querySelector("p").textContent = `The builder could not load what it offers (${failure.message}); reload the page, or use the Advanced (JSON) tab.`;
    },
  );
}
