import path from "node:path";
import { defineConfig } from "vitest/config";

/** Unit tests in plain Node: the pure rules and the source tree's shape, no workerd. */
export default defineConfig({
  test: {
    root: path.resolve(import.meta.dirname, "../.."),
    include: ["test/unit/**/*.test.ts"],
    environment: "node"
  }
});
