import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");

/**
 * The benchmark must keep working from a fresh clone: a tiny run of every
 * scenario against both targets, checked for completion and for zero lost or
 * duplicated messages. Speeds are not asserted: they are measured by
 * `npm run bench`, never by a test.
 */
describe("benchmark harness", () => {
  it("runs every scenario against both targets and loses or duplicates nothing", () => {
    const started = Date.now();
    const run = spawnSync(
      "npm",
      [
        "run", "bench", "--",
        "--connect-n", "20", "--hold-ms", "200",
        "--echo-clients", "2", "--echo-windows", "1,3", "--echo-seconds", "0.3",
        "--pairs", "2", "--msgs", "30", "--seconds", "0", "--window", "4", "--rate", "50", "--rate-seconds", "1",
        "--group-sizes", "8", "--group-senders", "1,2", "--group-msgs", "10", "--group-seconds", "0",
        "--big-sizes", "6,30", "--big-online", "4", "--big-msgs", "3",
        "--offline-users", "4", "--offline-msgs", "5", "--storm-clients", "10",
        "--relay-pairs", "3", "--relay-rate", "20", "--relay-seconds", "1", "--settle-ms", "5000"
      ],
      { cwd: ROOT, encoding: "utf8", timeout: 240_000 }
    );
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    const dir = path.join(ROOT, "bench/results");
    const newest = readdirSync(dir)
      .map((f) => path.join(dir, f))
      .filter((f) => statSync(f).mtimeMs >= started)
      .sort()
      .at(-1);
    expect(newest, "a results file").toBeDefined();
    const { metrics } = JSON.parse(readFileSync(newest!, "utf8")) as {
      metrics: { scenario: string; metric: string; value: number; target: string }[];
    };
    expect(new Set(metrics.map((m) => m.scenario))).toEqual(new Set(["connect", "echo", "private", "group", "biggroup", "offline", "reconnect", "relay"]));
    // Ours reports what each message cost; a bigger group with as many online costs no more rows.
    const rows = metrics.filter((m) => m.scenario === "biggroup" && m.metric === "rows written/msg" && m.target === "ours");
    expect(rows).toHaveLength(2);
    expect(rows[1]!.value).toBeLessThanOrEqual(rows[0]!.value + 1);
    // Two echo windows on each target, each of which answered requests.
    const echoed = metrics.filter((m) => m.scenario === "echo" && m.metric === "requests/s");
    expect(echoed).toHaveLength(4);
    for (const m of echoed) expect(m.value, `${m.target} echo`).toBeGreaterThan(0);
    expect(new Set(metrics.map((m) => m.target))).toEqual(new Set(["ours", "baseline"]));
    const bad = metrics.filter((m) => /^(lost|dup)$|failures$|errors$|^refused/.test(m.metric) && m.value !== 0);
    expect(bad).toEqual([]);
  });
});

describe("soak script", () => {
  it("runs a short soak with random disconnects and loses, duplicates or reorders nothing", () => {
    const run = spawnSync("npm", ["run", "soak", "--", "--minutes", "0.15", "--users", "8", "--group", "5", "--rate", "30", "--drop", "0.2"], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 180_000
    });
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    const summary = JSON.parse(run.stdout.slice(run.stdout.indexOf("{\n"))) as Record<string, number>;
    expect(summary).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0, unacked: 0, refused: 0 });
    expect(summary.delivered).toBe(summary.expectedDeliveries);
    expect(summary.sent).toBeGreaterThan(100);
    expect(summary.drops).toBeGreaterThan(0);
    expect(summary.orderChecked).toBeGreaterThan(100);
  });
});
