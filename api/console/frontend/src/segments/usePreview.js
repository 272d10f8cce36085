// The live count and sample of the filter being edited: asked for 400 ms after the last change, and only the
// answer to the newest request is shown (an older one arriving late is dropped), so a slow count never
// overwrites a newer one.
import { useEffect, useRef, useState } from "react";
import { sendJSON } from "../shared/api.js";

export const PREVIEW_URL = "/console/api/segments/preview";
const DEBOUNCE_MS = 400;

export function usePreview(definition, enabled) {
  const [state, setState] = useState({ updating: enabled, result: null, error: null });
  const latest = useRef(0);
  const wanted = JSON.stringify(definition);
  useEffect(() => {
    if (!enabled) return undefined;
    const request = ++latest.current;
    setState((old) => ({ ...old, updating: true }));
    const timer = window.setTimeout(async () => {
      const answer = await sendJSON("POST", PREVIEW_URL, { definition: JSON.parse(wanted) });
      if (request !== latest.current) return; // a newer edit asked again: this answer is stale
      setState(answer.ok ? { updating: false, result: answer.data, error: null } : { updating: false, result: null, error: answer.error });
    }, DEBOUNCE_MS);
    return () => window.clearTimeout(timer);
  }, [wanted, enabled]);
  return state;
}
