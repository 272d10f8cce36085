// The segment builder: the name and description, the conditions (as forms, or as JSON in the "Advanced" tab),
// the live count and sample beside them, saving (create or update) and deleting with a confirmation. Every
// problem the server reports is shown where it belongs: on the condition row, the name field, or the JSON.
import { useEffect, useMemo, useState } from "react";
import { sendJSON } from "../shared/api.js";
import { loadCatalog } from "../shared/catalog.js";
import { byPath } from "../shared/problems.js";
import { kindsOf } from "./kinds.js";
import { Preview } from "./Preview.jsx";
import { SegmentConditions } from "./SegmentConditions.jsx";
import { usePreview } from "./usePreview.js";

const SAVE_URL = "/console/api/segments";

// The server's answer to a save as problems by path ("name", "definition.all.1.tier.0").
function saveProblems(error) {
  if (error.code === "segment_exists") return new Map([["name", error.message]]);
  const found = byPath(Array.isArray(error.details) ? error.details : []);
  return found.size ? found : new Map([["", error.message]]);
}

function FieldProblem({ id, message }) {
  if (!message) return null;
  return (
    <p className="mf-problem" id={id} role="alert">
      {message}
    </p>
  );
}

function JsonTab({ text, onText, error, problems }) {
  const listed = [...problems].filter(([path]) => path.startsWith("definition"));
  return (
    <div className="mf-form">
      <label htmlFor="segment-json">The filter as JSON (docs/segments.md)</label>
      <textarea id="segment-json" name="definition" rows={18} spellCheck={false} value={text} aria-invalid={Boolean(error || listed.length) || undefined} onChange={(event) => onText(event.target.value)} />
      <FieldProblem id="segment-json-error" message={error} />
      {listed.length > 0 && (
        <ul className="mf-problem" role="alert">
          {listed.map(([path, message]) => (
            <li key={path}>
              <code>{path}</code>: {message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function DeletePanel({ segment, campaigns }) {
  const [confirming, setConfirming] = useState(false);
  const [refusal, setRefusal] = useState(null);
  const remove = async () => {
    const answer = await sendJSON("DELETE", `${SAVE_URL}/${segment.id}`, {});
    if (answer.ok) window.location.assign(answer.data.redirect);
    else {
      setRefusal(answer.error.message);
      setConfirming(false);
    }
  };
  return (
    <section className="mf-panel mf-delete" aria-labelledby="delete-title">
      <h2 id="delete-title">Delete</h2>
      {campaigns.length > 0 && (
        <p className="mf-muted">
          Used by {campaigns.map((c, i) => [i > 0 && ", ", <a key={c.id} href={c.url}>{c.name}</a>])}: a segment a campaign refers to cannot be deleted.
        </p>
      )}
      <FieldProblem id="delete-error" message={refusal} />
      {confirming ? (
        <p role="group" aria-label="confirm deletion">
          Delete “{segment.name}” for good?{" "}
          <button type="button" className="danger" onClick={remove}>
            Yes, delete
          </button>{" "}
          <button type="button" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </p>
      ) : (
        <button type="button" className="danger" onClick={() => setConfirming(true)}>
          Delete segment…
        </button>
      )}
    </section>
  );
}

export function SegmentBuilder({ data }) {
  const { segment, campaigns } = data;
  const [catalog, setCatalog] = useState(null);
  const [catalogError, setCatalogError] = useState(null);
  const [name, setName] = useState(segment?.name ?? "");
  const [description, setDescription] = useState(segment?.description ?? "");
  const [definition, setDefinition] = useState(data.definition);
  const [tab, setTab] = useState("builder");
  const [jsonText, setJsonText] = useState("");
  const [jsonError, setJsonError] = useState(null);
  const [saved, setSaved] = useState({ saving: false, problems: null });
  useEffect(() => {
    loadCatalog().then(setCatalog, (failure) => setCatalogError(failure.message));
  }, []);
  const kinds = useMemo(() => kindsOf(catalog), [catalog]);
  const preview = usePreview(definition, jsonError === null);
  const problems = saved.problems ?? (preview.error ? byPath(preview.error.details) : new Map());

  const edit = (next) => {
    setDefinition(next);
    setSaved({ saving: false, problems: null });
  };
  const openTab = (next) => {
    if (next === "json") setJsonText(JSON.stringify(definition, null, 2));
    setJsonError(null);
    setTab(next);
  };
  const typeJson = (text) => {
    setJsonText(text);
    let parsed;
    try {
      parsed = JSON.parse(text);
    } catch (failure) {
      setJsonError(`not valid JSON: ${failure.message}`);
      return;
    }
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
      setJsonError("the filter is a JSON object, such as {\"all\": []}");
      return;
    }
    setJsonError(null);
    edit(parsed);
  };
  const save = async (event) => {
    event.preventDefault();
    if (jsonError) return;
    setSaved({ saving: true, problems: null });
    const body = { name, description: description.trim() ? description : null, definition };
    const answer = segment ? await sendJSON("PUT", `${SAVE_URL}/${segment.id}`, body) : await sendJSON("POST", SAVE_URL, body);
    if (answer.ok) {
      window.location.assign(answer.data.redirect);
      return;
    }
    setSaved({ saving: false, problems: saveProblems(answer.error) });
  };

  if (catalogError) return <p className="error">The builder could not load its pickers: {catalogError}</p>;
  if (!catalog) return <p className="mf-muted">Loading the builder…</p>;
  const general = problems.get("") ?? problems.get("definition");
  return (
    <form className="mf-segment-builder" onSubmit={save} noValidate>
      <div className="mf-segment-builder__main">
        <div className="mf-form mf-panel">
          <label>
            Name
            <input type="text" name="name" value={name} maxLength={100} aria-invalid={problems.has("name") || undefined} aria-describedby="name-error" onChange={(event) => setName(event.target.value)} />
          </label>
          <FieldProblem id="name-error" message={problems.get("name")} />
          <label>
            Description <span className="mf-muted">(optional)</span>
            <input type="text" name="description" value={description} maxLength={2000} aria-invalid={problems.has("description") || undefined} onChange={(event) => setDescription(event.target.value)} />
          </label>
          <FieldProblem id="description-error" message={problems.get("description")} />
        </div>
        <div className="mf-tabs" role="tablist" aria-label="How to edit the conditions">
          <button type="button" role="tab" aria-selected={tab === "builder"} onClick={() => openTab("builder")}>
            Conditions
          </button>
          <button type="button" role="tab" aria-selected={tab === "json"} onClick={() => openTab("json")}>
            Advanced (JSON)
          </button>
        </div>
        <FieldProblem id="definition-error" message={general} />
        {tab === "builder" ? (
          <SegmentConditions value={definition} onChange={edit} kinds={kinds} catalog={catalog} problems={problems} />
        ) : (
          <JsonTab text={jsonText} onText={typeJson} error={jsonError} problems={problems} />
        )}
        <p className="mf-actions">
          <button type="submit" disabled={saved.saving || jsonError !== null}>
            {saved.saving ? "Saving…" : segment ? "Save changes" : "Save segment"}
          </button>
          {problems.size > 0 && saved.problems && <span className="mf-problem">Not saved: fix the problems shown.</span>}
        </p>
        {segment && <DeletePanel segment={segment} campaigns={campaigns} />}
      </div>
      <Preview state={preview} />
    </form>
  );
}
