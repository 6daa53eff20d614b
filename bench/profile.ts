// CPU profiles of the worker (workerd's inspector, the Chrome DevTools
// protocol) around one scenario: `npm run bench -- --target ours --profile 1`.
// Writes bench/results/<scenario>-<date>.cpuprofile (open it in Chrome
// DevTools → Performance, or speedscope) and prints the functions with the
// most self time.
import { writeFileSync } from "node:fs";
import WS from "ws";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** A started profile: `stop` writes it and returns the top self-time rows. */
export interface Profiling {
  stop(file: string, top?: number): Promise<string[]>;
}

/** Connects to the worker's inspector on `port` and starts sampling. */
export async function startProfile(port: number): Promise<Profiling> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as { webSocketDebuggerUrl: string; title?: string }[];
  // wrangler's own proxy worker is listed too; the user worker is the other one.
  const target = targets.find((t) => !/proxy/i.test(t.title ?? "")) ?? targets[0];
  if (!target) throw new Error(`no inspector target on port ${port}`);
  // The `ws` package: wrangler's inspector proxy refuses Node's built-in WebSocket handshake.
  const ws = new WS(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  let next = 1;
  const waiting = new Map<number, (result: unknown) => void>();
  ws.on("message", (data) => {
    const msg = JSON.parse(String(data)) as { id?: number; result?: unknown };
    if (msg.id !== undefined) waiting.get(msg.id)?.(msg.result);
  });
  const call = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((resolve) => {
      const id = next++;
      waiting.set(id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
  await call("Profiler.enable");
  await call("Profiler.setSamplingInterval", { interval: 200 });
  await call("Profiler.start");
  return {
    async stop(file, top = 25) {
      const { profile } = (await call("Profiler.stop")) as { profile: Profile };
      ws.close();
      writeFileSync(file, JSON.stringify(profile));
      return summarize(profile, top);
    }
  };
}

/** Self time per function (name, file:line), largest first, as percentages of all samples. */
function summarize(p: Profile, top: number): string[] {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    total += dt;
    const f = byId.get(id)?.callFrame;
    const key = f ? `${f.functionName || "(anonymous)"} ${f.url.split("/").slice(-2).join("/")}:${f.lineNumber + 1}` : "?";
    self.set(key, (self.get(key) ?? 0) + dt);
  });
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, v]) => `${((100 * v) / total).toFixed(1).padStart(5)} %  ${k}`);
}
