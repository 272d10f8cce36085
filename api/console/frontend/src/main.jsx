// Mounts the journey canvas into #journey-canvas: the journey page's version (live counts, editing, version
// comparison) or the new-journey page's empty editor, from the JSON the page embeds in #journey-graph.
import { createRoot } from "react-dom/client";
import { JourneyPage } from "./editor/JourneyPage.jsx";

const mount = document.getElementById("journey-canvas");
const data = document.getElementById("journey-graph");
if (mount && data) {
  createRoot(mount).render(<JourneyPage data={JSON.parse(data.textContent)} />);
}
