import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, startDevServer } from "./dev-server";

let server: DevServer;
beforeAll(async () => {
  server = await startDevServer();
});
afterAll(async () => server?.stop());

describe("OpenAPI document (served by wrangler dev)", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    const res = await fetch(`${server.url}/api/v1/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Record<string, unknown>;
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(Object.keys(doc.paths as object).length).toBeGreaterThan(30);
  });
});
