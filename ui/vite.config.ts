/// <reference types="vitest/config" />
import { defineConfig } from "vite";

// The web view is WebKitGTK 2.50 (Linux), WKWebView or WebView2: ES2021 runs on all of them.
export default defineConfig({
  clearScreen: false,
  server: { port: 1420, strictPort: true },
  build: { target: "es2021", sourcemap: false },
  test: {
    environment: "jsdom",
    globals: true,
    include: ["tests/**/*.test.ts"],
    restoreMocks: true,
  },
});
