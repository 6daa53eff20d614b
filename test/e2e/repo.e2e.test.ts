import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { freePort } from "./dev-server";

const ROOT = path.resolve(import.meta.dirname, "../..");

/** A copy of the working tree as a fresh clone would have it (tracked and unignored files), sharing node_modules. */
function freshCopy(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "edge-im-copy-"));
  const files = spawnSync("git", ["ls-files", "--cached", "--others", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" })
    .stdout.split("\n")
    .filter(Boolean);
  for (const f of files) {
    if (existsSync(path.join(ROOT, f))) cpSync(path.join(ROOT, f), path.join(dir, f), { recursive: true });
  }
  symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}

describe("repository", () => {
  it("`npm run dev` on a fresh copy provisions secrets, migrates D1 and serves", async () => {
    const dir = freshCopy();
    expect(existsSync(path.join(dir, ".dev.vars"))).toBe(false);
    const port = await freePort();
    const child = spawn("npm", ["run", "dev"], {
      cwd: dir,
      env: { ...process.env, PORT: String(port), NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true
    });
    let log = "";
    child.stdout!.on("data", (d) => (log += d));
    child.stderr!.on("data", (d) => (log += d));
    try {
      const url = `http://127.0.0.1:${port}`;
      const deadline = Date.now() + 90_000;
      let healthy = false;
      while (!healthy && Date.now() < deadline && child.exitCode === null) {
        healthy = await fetch(`${url}/health`).then((r) => r.ok, () => false);
        if (!healthy) await new Promise((r) => setTimeout(r, 300));
      }
      expect(healthy, log).toBe(true);
      const vars = readFileSync(path.join(dir, ".dev.vars"), "utf8");
      expect(vars).toMatch(/^JWT_SECRET=[0-9a-f]{64}$/m);
      expect(vars).toMatch(/^VAPID_PUBLIC_KEY=[A-Za-z0-9_-]{87}$/m);
      expect(vars).toMatch(/^VAPID_PRIVATE_KEY=[A-Za-z0-9_-]{40,43}$/m);
      const key = /^API_KEY=(\S+)$/m.exec(vars)![1];
      // A write to D1 proves the migrations were applied to the local database.
      const res = await fetch(`${url}/api/v1/users`, {
        method: "POST",
        headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
        body: JSON.stringify({ id: "quickstart" })
      });
      expect(res.status, log).toBe(201);
    } finally {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // already gone
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("has migrations that match the drizzle schema", () => {
    const out = mkdtempSync(path.join(tmpdir(), "edge-im-migrations-"));
    cpSync(path.join(ROOT, "migrations"), out, { recursive: true });
    const before = readdirSync(out).sort();
    const gen = spawnSync(
      path.join(ROOT, "node_modules/.bin/drizzle-kit"),
      ["generate", "--dialect=sqlite", "--schema=src/db/schema.ts", `--out=${out}`],
      { cwd: ROOT, encoding: "utf8" }
    );
    expect(gen.status, gen.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(before);
    rmSync(out, { recursive: true, force: true });
  });
});
