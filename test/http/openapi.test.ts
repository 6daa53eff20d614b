import { describe, expect, it } from "vitest";
import { app } from "../../src/index";
import { call, expectJson } from "../helpers/fixtures";

type Doc = { openapi: string; paths: Record<string, Record<string, { responses: Record<string, unknown>; description?: string }>> };

describe("OpenAPI document", () => {
  it("lists exactly the API's routes, each with responses", async () => {
    const doc = await expectJson<Doc>(await call("/api/v1/openapi.json"), 200);
    expect(doc.openapi).toBe("3.1.0");
    const documented = new Set(Object.entries(doc.paths).flatMap(([p, ms]) => Object.keys(ms).map((m) => `${m.toUpperCase()} ${p}`)));
    const served = new Set(
      app.routes
        .filter((r) => r.path.startsWith("/api/v1") && r.method !== "ALL")
        .map((r) => `${r.method} ${r.path.replace(/:([A-Za-z]+)/g, "{$1}").replace(/\/$/, "")}`)
    );
    expect(served.size).toBeGreaterThan(40);
    expect([...served].filter((r) => !documented.has(r))).toEqual([]);
    expect([...documented].filter((r) => !served.has(r))).toEqual([]);
    for (const methods of Object.values(doc.paths)) {
      for (const op of Object.values(methods)) expect(Object.keys(op.responses).length).toBeGreaterThan(1);
    }
  });

  it("names the GatewayWorker call each parity route replaces", async () => {
    const doc = await expectJson<Doc>(await call("/api/v1/openapi.json"), 200);
    const calls = Object.values(doc.paths).flatMap((ms) => Object.values(ms).map((o) => o.description ?? ""));
    for (const name of ["sendToUid", "sendToGroup", "sendToAll", "isUidOnline", "getAllUidList", "getAllUidCount", "getUidListByGroup", "getUidCountByGroup", "getClientIdByUid", "closeClient", "joinGroup", "leaveGroup", "ungroup"]) {
      expect(calls.join(" ")).toContain(`\`${name}\``);
    }
  });

  it("serves a readable docs page without a key", async () => {
    const res = await call("/api/v1/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    const html = await res.text();
    expect(html).toContain("POST /api/v1/push/users");
    expect(html).not.toContain("<script");
  });
});
