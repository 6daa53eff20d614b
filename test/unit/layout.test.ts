import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { LAYERS, ROOT } from "./source-tree";

/**
 * README.md's "Layout" is a tree of src/, one line a file, folders in layer
 * order. It must name every file there is and none that is gone, so the
 * map a newcomer reads first cannot drift from the code.
 */
function layoutTree(readme: string): string[] {
  const section = readme.split(/^## Layout$/m)[1];
  if (section === undefined) throw new Error("README.md has no '## Layout' section");
  const block = /```text\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error("README.md's Layout has no ```text tree");
  return block[1]!.split("\n").filter((l) => l.trim() !== "");
}

/** The tree's lines as paths (`src/store/inbox.ts`); folders end with "/". Two spaces per level. */
export function pathsOf(lines: readonly string[]): string[] {
  const stack: string[] = [];
  const out: string[] = [];
  for (const line of lines) {
    const depth = (line.length - line.trimStart().length) / 2;
    const name = line.trim().split(/\s+/)[0]!;
    if (!Number.isInteger(depth) || depth > stack.length) throw new Error(`bad indentation: ${line}`);
    stack.length = depth;
    const full = stack.join("") + name;
    out.push(full);
    if (name.endsWith("/")) stack.push(name);
  }
  return out;
}

function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(path.join(ROOT, dir), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? filesUnder(`${dir}/${e.name}`) : [`${dir}/${e.name}`]));
}

const tree = pathsOf(layoutTree(fs.readFileSync(path.join(ROOT, "README.md"), "utf8")));

describe("README's layout tree", () => {
  it("names every file under src/ and no file that is not there", () => {
    const listed = tree.filter((p) => !p.endsWith("/")).sort();
    expect(listed).toEqual(filesUnder("src").sort());
  });

  it("lists the server's folders in layer order, lowest first", () => {
    const folders = tree.filter((p) => /^src\/[^/]+\/$/.test(p)).map((p) => p.slice(4, -1));
    const layers = folders.filter((f) => (LAYERS as readonly string[]).includes(f));
    expect(layers).toEqual(LAYERS.filter((l) => l !== "."));
  });

  it("reads nested folders as paths", () => {
    expect(pathsOf(["src/", "  a.ts  job", "  b/", "    c.ts  job", "  d.ts"])).toEqual(["src/", "src/a.ts", "src/b/", "src/b/c.ts", "src/d.ts"]);
  });
});
