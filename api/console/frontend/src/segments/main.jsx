// Mounts the segment builder into #segment-builder with what the page embeds in #segment-data (the segment, its
// filter, the campaigns that use it).
import { createRoot } from "react-dom/client";
import "../shared/builder.css";
import "./segments.css";
import { SegmentBuilder } from "./SegmentBuilder.jsx";

const mount = document.getElementById("segment-builder");
const data = document.getElementById("segment-data");
if (mount && data) {
  createRoot(mount).render(<SegmentBuilder data={JSON.parse(data.textContent)} />);
}
