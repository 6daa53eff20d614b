import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { cyclesOf, importGraph, layerOf, LAYERS, mayImport, ROOT } from "./source-tree";

/**
 * The import rule of src/ (README, "Layout"): a file imports only its own
 * layer or those below it, type imports included, and no set of files
 * imports itself round. The client SDK sits beside the server: it imports
 * only the protocol, and the demo only the SDK and the protocol.
 */
const graph = importGraph();

describe("the import rule", () => {
  it("knows every file's layer", () => {
    const unknown = [...graph.keys()].filter((f) => layerOf(f) === undefined);
    expect(unknown).toEqual([]);
  });

  it("has no import that goes up the layers", () => {
    const upward: string[] = [];
    for (const [file, deps] of graph) {
      for (const dep of deps) if (!mayImport(layerOf(file)!, layerOf(dep)!)) upward.push(`${file} -> ${dep}`);
    }
    expect(upward).toEqual([]);
  });

  it("has no import cycle", () => {
    expect(cyclesOf(graph)).toEqual([]);
  });

  it("reaches other objects only through the stub getters of src/rpc/stubs.ts", () => {
    const raw = [...graph.keys()].filter(
      (f) => f !== "src/rpc/stubs.ts" && /\.(getByName|idFromName|idFromString)\(/.test(fs.readFileSync(path.join(ROOT, f), "utf8"))
    );
    expect(raw).toEqual([]);
  });

  it("catches a wrong-way edge and a cycle when there is one", () => {
    expect(mayImport("store", "realtime")).toBe(false);
    expect(mayImport("realtime", "store")).toBe(true);
    expect(mayImport("client", "lib")).toBe(false);
    const g = new Map([
      ["a", ["b"]],
      ["b", ["c"]],
      ["c", ["a"]],
      ["d", ["a"]]
    ]);
    expect(cyclesOf(g)).toEqual([["a", "b", "c"]]);
  });

  it("orders the server's layers from the protocol up to the entry point", () => {
    expect(LAYERS).toEqual(["protocol", "lib", "rules", "rpc", "db", "store", "realtime", "objects", "http", "."]);
  });
});
