import fs from "node:fs";
import path from "node:path";

/** The repository root and its `src/` folder. */
export const ROOT = path.resolve(import.meta.dirname, "../..");
const SRC = path.join(ROOT, "src");

/**
 * The server's layers, lowest first: a file may import its own layer and
 * those before it. "." is the entry point (`src/index.ts`, `src/env.d.ts`).
 */
export const LAYERS = ["protocol", "lib", "rules", "rpc", "db", "store", "realtime", "objects", "http", "."] as const;
/** Beside the server: the client SDK and the demo page built on it. */
const SIDE: Record<string, readonly string[]> = { client: ["client", "protocol"], demo: ["demo", "client", "protocol"] };

export type Layer = (typeof LAYERS)[number] | "client" | "demo";

/** Every `.ts` file under src/, as a path relative to the root (`src/store/inbox.ts`). */
export function sourceFiles(dir = SRC): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith(".ts")) out.push(path.relative(ROOT, p));
  }
  return out.sort();
}

/** The layer of a file: the first folder under src/, "." for files directly in it. */
export function layerOf(file: string): Layer | undefined {
  const parts = file.split("/");
  if (parts.length === 2) return ".";
  const top = parts[1]!;
  return (LAYERS as readonly string[]).includes(top) || top in SIDE ? (top as Layer) : undefined;
}

export function mayImport(from: Layer, to: Layer): boolean {
  const side = SIDE[from];
  if (side) return side.includes(to);
  if (to in SIDE) return false;
  return LAYERS.indexOf(to as (typeof LAYERS)[number]) <= LAYERS.indexOf(from as (typeof LAYERS)[number]);
}

// `import … from "./x"`, `import type …`, `export … from`, `import "./x"` and `import("./x")`.
const IMPORT = /(?:\bfrom|\bimport)\s*\(?\s*["'](\.{1,2}\/[^"']*)["']/g;

function resolve(from: string, spec: string): string | undefined {
  const base = path.join(path.dirname(path.join(ROOT, from)), spec);
  for (const c of [base, `${base}.ts`, path.join(base, "index.ts")]) {
    if (fs.existsSync(c) && fs.statSync(c).isFile()) return path.relative(ROOT, c);
  }
  return undefined;
}

/** Each src/ file and the src/ files it imports (relative imports only; packages are not layers). */
export function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles()) {
    const text = fs.readFileSync(path.join(ROOT, file), "utf8");
    const deps = new Set<string>();
    for (const m of text.matchAll(IMPORT)) {
      const target = resolve(file, m[1]!);
      if (target === undefined) throw new Error(`${file}: cannot resolve ${m[1]}`);
      if (target !== file) deps.add(target);
    }
    graph.set(file, [...deps]);
  }
  return graph;
}

/** The graph's cycles: each strongly connected set of two or more files, sorted (Tarjan). */
export function cyclesOf(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const set: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        set.push(w);
      } while (w !== v);
      if (set.length > 1) found.push(set.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found.sort((a, b) => a[0]!.localeCompare(b[0]!));
}
