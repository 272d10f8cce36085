// Mounts the journey canvas into #journey-canvas, drawing the graph the page embeds as JSON in #journey-graph.
import { createRoot } from "react-dom/client";
import { JourneyCanvas } from "./JourneyCanvas.jsx";

const mount = document.getElementById("journey-canvas");
const data = document.getElementById("journey-graph");
if (mount && data) {
  createRoot(mount).render(<JourneyCanvas graph={JSON.parse(data.textContent)} />);
}
