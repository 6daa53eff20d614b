import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULTS, limitsOf } from "../../src/lib/config";
import { ROOT } from "./source-tree";

const doc = fs.readFileSync(path.join(ROOT, "docs/configuration.md"), "utf8");

/** The default column of the table row of `key` in docs/configuration.md. */
function documentedDefault(key: string): string | undefined {
  const row = new RegExp(`^\\| \`${key}\` \\| ([^|]+) \\|`, "m").exec(doc);
  return row?.[1]!.trim().replace(/^`(.*)`$/, "$1").replace(/^"(.*)"$/, "$1");
}

describe("configuration", () => {
  it("documents every setting with the default the code uses", () => {
    const wrong = Object.entries(DEFAULTS)
      .filter(([key, value]) => documentedDefault(key) !== String(value))
      .map(([key, value]) => `${key}: code ${value}, docs ${documentedDefault(key)}`);
    expect(wrong).toEqual([]);
  });

  it("falls back to the defaults when a var is missing or malformed", () => {
    const limits = limitsOf({ INBOX_MAX: "not a number", SEND_BURST: "-3" });
    expect(limits.inboxMax).toBe(DEFAULTS.INBOX_MAX);
    expect(limits.sendBurst).toBe(DEFAULTS.SEND_BURST);
    expect(limits.inboxTtlMs).toBe(DEFAULTS.INBOX_TTL_SECONDS * 1000);
    expect([...limits.strangerKinds]).toEqual(DEFAULTS.STRANGER_KINDS.split(","));
  });

  it("takes a var over its default", () => {
    const limits = limitsOf({ FANOUT_CONCURRENCY: "32", STRANGER_KINDS: "read, ", LOG_LEVEL: "debug" });
    expect(limits.fanoutConcurrency).toBe(32);
    expect([...limits.strangerKinds]).toEqual(["read"]);
    expect(limits.logLevel).toBe("debug");
    expect(limitsOf({ IDLE_SOCKET_SECONDS: "0" }).idleSocketMs).toBe(0);
    expect(limitsOf({ IDLE_SOCKET_SECONDS: "-1" }).idleSocketMs).toBe(DEFAULTS.IDLE_SOCKET_SECONDS * 1000);
  });
});
