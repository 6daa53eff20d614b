import { spawn } from "node:child_process";
import { accessSync, constants, cpSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { DevServer } from "../test/e2e/dev-server.ts";
import { mintToken } from "./jwt.ts";


/** The server's cost counters: the body of `GET /api/v1/metrics` (src/protocol/http.ts `costsSchema`). */
export type Costs = Record<"rowsRead" | "rowsWritten" | "kvReads" | "kvWrites" | "alarmsSet" | "d1Statements" | "d1Queries", number> & {
  calls: Record<string, number>;
};

export type TargetName = "ours" | "baseline";

/** A running server the scenarios drive: the same client code for every target. */
export interface Target {
  name: TargetName;
  wsUrl: string;
  /** Server process ids (for RSS and CPU); the first is the process-group leader. */
  pids(): number[];
  /** The worker's DevTools inspector (ours only), for `--profile`. */
  inspectorPort?: number;
  token(uid: string): string;
  admin(method: string, p: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  /** What the server's objects cost since the last reset (ours only: `GET /api/v1/metrics`). */
  costs?(reset: boolean): Promise<Costs>;
  stop(): Promise<void>;
}

const BASELINE = path.join(import.meta.dirname, "baseline-server.mjs");

const ROOT = path.resolve(import.meta.dirname, "..");
/** What `wrangler dev` needs from the working tree (node_modules is linked, not copied). */
const SNAPSHOT = ["src", "migrations", "wrangler.toml", "package.json", "tsconfig.json", "test/e2e/dev-server.ts", "dist/demo"];

/**
 * `wrangler dev` via startDevServer (fresh local state, random secrets) run
 * from a copy of the working tree taken now, so edits made to src/ during a
 * run cannot hot-reload the server and drop every socket. startDevServer
 * resolves its project root from its own file, hence the copied dev-server.ts.
 * wrangler's per-invocation local tracing is off (X_LOCAL_OBSERVABILITY=false):
 * it is a dev-tool feature that costs about twice the work of a request.
 * The copy and the local state (D1 + Durable Object SQLite) live under `stateDir`.
 */
async function startOurs(stateDir: string): Promise<Target> {
  const snap = mkdtempSync(path.join(stateDir, "edge-im-bench-src-"));
  for (const p of SNAPSHOT) cpSync(path.join(ROOT, p), path.join(snap, p), { recursive: true });
  symlinkSync(path.join(ROOT, "node_modules"), path.join(snap, "node_modules"));
  const removeSnap = () => rmSync(snap, { recursive: true, force: true });
  let s: DevServer;
  let admin: Target["admin"];
  try {
    const dev = (await import(pathToFileURL(path.join(snap, "test/e2e/dev-server.ts")).href)) as typeof import("../test/e2e/dev-server.ts");
    // Throughput is measured, not the per-user send limiter: it is lifted (and logs kept to warnings).
    s = await dev.startDevServer({
      timeoutMs: 120_000,
      observability: false,
      stateDir,
      vars: { LOG_LEVEL: "warn", SEND_RATE_PER_SECOND: "1000000", SEND_BURST: "1000000" }
    });
    admin = dev.adminClient(s);
  } catch (err) {
    removeSnap();
    throw err;
  }
  return {
    name: "ours",
    wsUrl: s.wsUrl,
    inspectorPort: s.inspectorPort,
    pids: () => s.pids(),
    token: (uid) => mintToken(s.jwtSecret, uid),
    admin,
    costs: async (reset) => {
      const r = await admin("GET", `/api/v1/metrics${reset ? "?reset=1" : ""}`);
      if (r.status !== 200) throw new Error(`metrics: ${r.status}`);
      return r.body as Costs;
    },
    stop: async () => {
      await s.stop();
      removeSnap();
    }
  };
}

/** The in-memory `ws` server as a separate child process (own process group) on a free loopback port. */
async function startBaseline(): Promise<Target> {
  const child = spawn(process.execPath, [BASELINE, "0"], { stdio: ["ignore", "pipe", "inherit"], detached: true });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.once("exit", (code) => reject(new Error(`baseline exited ${code}`)));
    child.stdout!.on("data", (d) => {
      out += d;
      const m = /READY (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    name: "baseline",
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    pids: () => (child.exitCode === null ? [child.pid!] : []),
    token: (uid) => mintToken("baseline-does-not-verify", uid),
    admin: adminHttp(url),
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  };
}

/** Where `ours` keeps its local state: tmpfs when available, so a VM disk's fsync latency is not what gets measured. */
export function defaultStateDir(): string {
  try {
    accessSync("/dev/shm", constants.W_OK);
    return "/dev/shm";
  } catch {
    return tmpdir();
  }
}

export function startTarget(name: TargetName, o: { stateDir: string }): Promise<Target> {
  return name === "ours" ? startOurs(o.stateDir) : startBaseline();
}

/** Admin JSON calls for the baseline (same shape as dev-server's adminClient). */
function adminHttp(url: string): Target["admin"] {
  return async (method, p, body) => {
    const res = await fetch(url + p, {
      method,
      headers: { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body)
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
}
