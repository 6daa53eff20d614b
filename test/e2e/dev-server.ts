import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "../..");
const WRANGLER = path.join(ROOT, "node_modules/.bin/wrangler");

/** A real `wrangler dev` on loopback with fresh local state and its own secrets. */
export interface DevServer {
  url: string;
  wsUrl: string;
  apiKey: string;
  jwtSecret: string;
  /** Devtools inspector of the worker (for CPU profiles). */
  inspectorPort: number;
  /** Everything wrangler printed so far. */
  log(): string;
  /** PIDs of the processes serving it: wrangler and its workerd runtimes. */
  pids(): number[];
  stop(): Promise<void>;
}

export interface DevServerOptions {
  /** Extra `[vars]`, passed as --var. */
  vars?: Record<string, string>;
  timeoutMs?: number;
  /**
   * wrangler's local tracing (X_LOCAL_OBSERVABILITY) attaches a trace
   * collector to every invocation; benchmarks turn it off. Default: on.
   */
  observability?: boolean;
  /** wrangler's own log level (default "warn"); "log" also prints the Worker's structured logs. */
  logLevel?: "warn" | "info" | "log";
  /** Parent directory of the fresh local state (default: the OS temp dir). */
  stateDir?: string;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** wrangler needs Node >= 22: the project's own Node goes first on PATH. */
function envFor(o: DevServerOptions): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: `${path.join(ROOT, "node_modules/.bin")}${path.delimiter}${process.env.PATH ?? ""}`,
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    WRANGLER_SEND_METRICS: "false",
    X_LOCAL_OBSERVABILITY: o.observability === false ? "false" : "true",
    NO_COLOR: "1"
  };
}

/**
 * Applies the D1 migrations to a temporary persist dir, starts `wrangler dev`
 * on a free port with random secrets (passed as --var, which win over any
 * .dev.vars), and resolves once /health answers.
 */
export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  const ENV = envFor(opts);
  const persist = mkdtempSync(path.join(opts.stateDir ?? tmpdir(), "edge-im-"));
  const apply = spawnSync(WRANGLER, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", persist], {
    cwd: ROOT,
    env: ENV,
    encoding: "utf8"
  });
  if (apply.status !== 0) {
    rmSync(persist, { recursive: true, force: true });
    throw new Error(`migrations failed:\n${apply.stdout}\n${apply.stderr}`);
  }

  const port = await freePort();
  const inspector = await freePort();
  const apiKey = randomBytes(16).toString("hex");
  const jwtSecret = randomBytes(32).toString("hex");
  const vars = { JWT_SECRET: jwtSecret, API_KEY: apiKey, ...opts.vars };
  const args = [
    "dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspector),
    "--persist-to", persist, "--show-interactive-dev-session=false", "--log-level", opts.logLevel ?? "warn",
    ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`])
  ];
  const child: ChildProcess = spawn(WRANGLER, args, { cwd: ROOT, env: ENV, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let log = "";
  child.stdout!.on("data", (d) => (log += d));
  child.stderr!.on("data", (d) => (log += d));

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited ${child.exitCode}:\n${log}`);
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      process.kill(-child.pid!, "SIGKILL");
      rmSync(persist, { recursive: true, force: true });
      throw new Error(`wrangler dev did not become healthy:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }

  return {
    url,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    apiKey,
    jwtSecret,
    inspectorPort: inspector,
    log: () => log,
    pids: () => descendants(child.pid!),
    stop: async () => {
      try {
        process.kill(-child.pid!, "SIGTERM");
      } catch {
        // already gone
      }
      await new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const t = setTimeout(() => {
          try {
            process.kill(-child.pid!, "SIGKILL");
          } catch {
            // gone
          }
          resolve();
        }, 5_000);
        child.once("exit", () => {
          clearTimeout(t);
          resolve();
        });
      });
      rmSync(persist, { recursive: true, force: true });
    }
  };
}

/** `pid` and all its descendants (Linux /proc via ps). */
function descendants(pid: number): number[] {
  const out = spawnSync("ps", ["-e", "-o", "pid=,ppid="], { encoding: "utf8" }).stdout;
  const children = new Map<number, number[]>();
  for (const line of out.trim().split("\n")) {
    const [p, pp] = line.trim().split(/\s+/).map(Number);
    if (!children.has(pp!)) children.set(pp!, []);
    children.get(pp!)!.push(p!);
  }
  const all: number[] = [];
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop()!;
    all.push(p);
    stack.push(...(children.get(p) ?? []));
  }
  return all;
}

/** Thin HTTP client for the admin API of a running server. */
export function adminClient(server: Pick<DevServer, "url" | "apiKey">) {
  return async function admin<T = unknown>(method: string, p: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(server.url + p, {
      method,
      headers: { Authorization: `Bearer ${server.apiKey}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body)
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  };
}
