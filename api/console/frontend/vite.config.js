// Builds the console's journey canvas into ../static/build/ (served at /console/static/build/), with fixed
// file names so the server-rendered page can name them: canvas.js and canvas.css.
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

export default defineConfig({
  plugins: [react()],
  logLevel: "warn",
  build: {
    outDir: "../static/build",
    emptyOutDir: true,
    sourcemap: false,
    rollupOptions: {
      input: "src/main.jsx",
      output: {
        entryFileNames: "canvas.js",
        chunkFileNames: "canvas-[name].js",
        assetFileNames: "canvas[extname]",
      },
    },
  },
});
