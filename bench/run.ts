// Entry: node bench/run.ts [--scenario all|connect,echo,private,group,offline,reconnect,relay]
//   [--target both|ours|baseline] [--preset quick|full] [--<size flag> value[,value...]]
// Starts each target fresh on loopback, runs every selected scenario against
// each target in turn, prints a table with ours/baseline ratios and writes
// bench/results/<iso-date>.json. Child servers are stopped on exit, error and Ctrl-C.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Ctx, Flags, Metric, Scenario } from "./metrics.ts";
import { connect } from "./scenarios/connect.ts";
import { echo } from "./scenarios/echo.ts";
import { group } from "./scenarios/group.ts";
import { bigGroup } from "./scenarios/biggroup.ts";
import { offline } from "./scenarios/offline.ts";
import { privateChat } from "./scenarios/private.ts";
import { reconnect } from "./scenarios/reconnect.ts";
import { relay } from "./scenarios/relay.ts";
import { defaultStateDir, startTarget, type Target, type TargetName } from "./targets.ts";
import { type Profiling, startProfile } from "./profile.ts";
import { printTable, type Row } from "./table.ts";
import { CpuMeter } from "./stats.ts";

const SCENARIOS: Record<string, Scenario> = { connect, echo, private: privateChat, group, biggroup: bigGroup, offline, reconnect, relay };

/** Quick matrix: about two minutes on a 2-core machine for both targets. */
const QUICK: Flags = {
  scenario: "all", target: "both",
  "connect-n": 1000, "connect-concurrency": 200, "hold-ms": 1000,
  pairs: 10, msgs: 20_000, seconds: 3, window: 10, rate: 1000, "rate-seconds": 3,
  "group-sizes": [100, 1000], "group-senders": [1, 4], "group-msgs": 2000, "group-seconds": 1, "group-window": 5,
  /** biggroup: groups of these sizes with this many members online, messages sent one at a time. */
  "big-sizes": [100, 10000], "big-online": 100, "big-msgs": 50,
  "offline-users": 100, "offline-msgs": 20,
  /** relay: the backend's sendToUid of seed frames, at a rate within the deployed push budget. */
  "relay-pairs": 100, "relay-rate": 500, "relay-seconds": 4,
  "storm-clients": 500,
  "echo-clients": 10, "echo-windows": [1, 10], "echo-seconds": 2,
  /** Stop waiting for deliveries after this long without progress (then audit). */
  "settle-ms": 10_000, "scenario-timeout-s": 300,
  /** Parent dir of ours' fresh local state; "auto" = /dev/shm if writable, else the OS tmpdir. */
  "state-dir": "auto",
  /** 1: record a CPU profile of ours' worker per scenario (bench/results/*.cpuprofile) and print its top functions. */
  profile: 0
};

/**
 * Waits (up to 60 s) until the server is idle: under 10 % of a core over one
 * second. The previous scenario's clean-up (a thousand users going offline,
 * their presence updates) would otherwise be measured as the next one's cost.
 */
async function settle(t: Target, log: (m: string) => void): Promise<void> {
  const t0 = performance.now();
  for (;;) {
    const meter = new CpuMeter(t.pids());
    await new Promise((r) => setTimeout(r, 1000));
    const { server } = meter.stop();
    if (server < 10) return;
    if (performance.now() - t0 > 60_000) return log(`server still busy (${server.toFixed(0)} % of a core) after 60 s; starting anyway`);
  }
}

/** The issue's full sizes (takes much longer). */
const FULL: Flags = {
  ...QUICK,
  "connect-n": [1000, 5000, 10000], pairs: 100, msgs: 1000, seconds: 0, "rate-seconds": 10,
  "group-msgs": 100, "group-seconds": 0, "offline-users": 1000, "offline-msgs": 100, "storm-clients": 5000,
  "scenario-timeout-s": 900
};

function parseArgs(argv: string[]): Flags {
  const given: Flags = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("--")) throw new Error(`unexpected argument ${a}`);
    const eq = a.indexOf("=");
    const key = eq > 0 ? a.slice(2, eq) : a.slice(2);
    const raw = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (raw === undefined) throw new Error(`--${key} needs a value`);
    const parts = raw.split(",");
    const asNums = parts.map(Number);
    given[key] = asNums.every((n) => Number.isFinite(n) && raw !== "")
      ? (asNums.length === 1 ? asNums[0]! : asNums)
      : raw;
  }
  const preset = given.preset === "full" ? FULL : QUICK;
  for (const k of Object.keys(given)) {
    if (k !== "preset" && !(k in QUICK)) throw new Error(`unknown flag --${k}; known: ${Object.keys(QUICK).join(", ")}`);
  }
  return { ...preset, ...given };
}

const args = process.argv.slice(2);
const flags = parseArgs(args);
const names = flags.scenario === "all" ? Object.keys(SCENARIOS) : String(flags.scenario).split(",");
for (const n of names) if (!SCENARIOS[n]) throw new Error(`unknown scenario ${n}; known: ${Object.keys(SCENARIOS).join(", ")}`);
const targetNames: TargetName[] = flags.target === "both" ? ["ours", "baseline"] : [flags.target as TargetName];
const logs: string[] = [];
const log = (m: string) => {
  logs.push(m);
  console.log(`  · ${m}`);
};

// ---- child-process hygiene: every started server is stopped, whatever happens ----
const running = new Map<Target, number>(); // target → process-group leader pid
let stopping: Promise<void> | undefined;
const stopAll = () => (stopping ??= Promise.all([...running.keys()].map((t) => t.stop().catch(() => {}))).then(() => running.clear()));
const bail = (code: number, why: string) => async (err?: unknown) => {
  console.error(`\n${why}${err instanceof Error ? `: ${err.stack}` : ""}; stopping servers`);
  await stopAll();
  process.exit(code);
};
process.on("SIGINT", bail(130, "interrupted"));
process.on("SIGTERM", bail(143, "terminated"));
process.on("uncaughtException", bail(1, "uncaught exception"));
process.on("unhandledRejection", bail(1, "unhandled rejection"));
process.on("exit", () => {
  for (const pid of running.values()) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
});

const ROOT = path.resolve(import.meta.dirname, "..");
const version = (pkg: string) => {
  try {
    return JSON.parse(readFileSync(path.join(ROOT, "node_modules", pkg, "package.json"), "utf8")).version as string;
  } catch {
    return "?";
  }
};
const git = (...a: string[]) => spawnSync("git", a, { cwd: ROOT, encoding: "utf8" }).stdout?.trim() ?? "";
/** Revision the server copy was taken from; "+dirty" when src/, migrations/ or wrangler.toml have local edits. */
const revision = `${git("rev-parse", "--short", "HEAD") || "?"}${git("status", "--porcelain", "--", "src", "migrations", "wrangler.toml") ? "+dirty" : ""}`;
const machine = {
  cpu: os.cpus()[0]?.model ?? "?", cores: os.cpus().length, memGiB: Math.round(os.totalmem() / 2 ** 30),
  os: `${os.type()} ${os.release()}`, node: process.version, wrangler: version("wrangler"), ws: version("ws")
};
const command = process.env.npm_lifecycle_event === "bench"
  ? `npm run bench${args.length ? ` -- ${args.join(" ")}` : ""}`
  : `node bench/run.ts ${args.join(" ")}`.trim();
console.log(`machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memGiB} GiB, ${machine.os}, node ${machine.node}, wrangler ${machine.wrangler}; server code ${revision}`);
console.log(`command: ${command}`);
const stateDir = flags["state-dir"] === "auto" ? defaultStateDir() : String(flags["state-dir"]);
console.log(`scenarios: ${names.join(", ")}; targets: ${targetNames.join(", ")}; ours' local state under ${stateDir}`);

const started = new Date();
const t0 = performance.now();
const targets: Target[] = [];
for (const n of targetNames) {
  const s = performance.now();
  const t = await startTarget(n, { stateDir });
  running.set(t, t.pids()[0]!);
  targets.push(t);
  console.log(`started ${n} in ${((performance.now() - s) / 1000).toFixed(1)} s (${t.wsUrl})`);
}

const metrics: (Metric & { target: TargetName })[] = [];
for (const name of names) {
  for (const t of targets) {
    const abort = new AbortController();
    const ctx: Ctx = { flags, log: (m) => log(`${t.name}: ${m}`), signal: abort.signal };
    await settle(t, ctx.log);
    const s = performance.now();
    console.log(`▶ ${name} on ${t.name}`);
    const timeoutMs = Number(flags["scenario-timeout-s"]) * 1000;
    let timer: NodeJS.Timeout | undefined;
    const profiling: Profiling | undefined =
      flags.profile === 1 && t.inspectorPort !== undefined ? await startProfile(t.inspectorPort) : undefined;
    try {
      const got = await Promise.race([
        SCENARIOS[name]!(t, ctx),
        new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs)))
      ]);
      metrics.push(...got.map((m) => ({ ...m, target: t.name })));
    } catch (err) {
      abort.abort();
      ctx.log(`${name} FAILED: ${(err as Error).message}`);
      metrics.push({ scenario: name, case: "-", metric: "FAILED", unit: "", value: Number.NaN, target: t.name });
    } finally {
      clearTimeout(timer);
    }
    if (profiling) {
      mkdirSync(path.join(ROOT, "bench/results"), { recursive: true });
      const file = path.join(ROOT, "bench/results", `${name}-${new Date().toISOString().replaceAll(":", "-")}.cpuprofile`);
      const top = await profiling.stop(file);
      console.log(`  profile of ${name} (self time, whole scenario including setup): ${file}\n    ${top.join("\n    ")}`);
    }
    console.log(`  ${name} on ${t.name}: ${((performance.now() - s) / 1000).toFixed(1)} s`);
  }
}
await stopAll();

const rows: Row[] = [];
for (const m of metrics) {
  let row = rows.find((r) => r.scenario === m.scenario && r.case === m.case && r.metric === m.metric);
  if (!row) rows.push((row = { scenario: m.scenario, case: m.case, metric: m.metric, unit: m.unit }));
  row[m.target] = m.value;
}
for (const r of rows) if (r.ours !== undefined && r.baseline !== undefined && r.baseline !== 0) r.ratio = r.ours / r.baseline;
console.log();
printTable(rows);
const totalS = (performance.now() - t0) / 1000;
console.log(`\ntotal ${totalS.toFixed(1)} s; ratio = ours / baseline`);

const dir = path.join(import.meta.dirname, "results");
mkdirSync(dir, { recursive: true });
const file = path.join(dir, `${started.toISOString().replace(/:/g, "-")}.json`);
writeFileSync(file, JSON.stringify({ date: started.toISOString(), command, machine, revision, stateDir, flags, totalSeconds: totalS, rows, metrics, logs }, null, 2));
console.log(`results: ${path.relative(ROOT, file)}`);
process.exit(0);
