import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// The app loads the built files through Tauri's custom protocol: no dev
// server, no remote content. Tests run in jsdom.
export default defineConfig({
  plugins: [react()],
  clearScreen: false,
  build: { target: "safari15", outDir: "dist", emptyOutDir: true },
  test: { environment: "jsdom", include: ["src/**/*.test.{ts,tsx}"] },
});
