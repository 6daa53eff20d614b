import path from "node:path";
import { defineConfig } from "vitest/config";

/** End-to-end tests: plain Node processes talking to a real `wrangler dev` over sockets. */
export default defineConfig({
  test: {
    root: path.resolve(import.meta.dirname, "../.."),
    include: ["test/e2e/**/*.e2e.test.ts"],
    environment: "node",
    testTimeout: 300_000,
    hookTimeout: 90_000,
    fileParallelism: false
  }
});
