// Builds the console's front-end islands into ../static/build/ (served at /console/static/build/): one entry per
// page that needs one, named in ENTRIES. The manifest (.vite/manifest.json) tells the server which script and
// style files an entry needs, shared chunks included (api.console.render.bundle writes the tags).
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

export const ENTRIES = {
  canvas: "src/main.jsx",
  rules: "src/rules/main.jsx",
  segments: "src/segments/main.jsx",
};

export default defineConfig({
  plugins: [react()],
  logLevel: "warn",
  build: {
    outDir: "../static/build",
    emptyOutDir: true,
    sourcemap: false,
    manifest: true,
    rollupOptions: {
      input: ENTRIES,
      output: {
        entryFileNames: "[name]-[hash].js",
        chunkFileNames: "chunk-[name]-[hash].js",
        assetFileNames: "[name]-[hash][extname]",
      },
    },
  },
});
