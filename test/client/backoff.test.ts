import { describe, expect, it } from "vitest";
import { backoffDelay } from "../../src/client";

describe("SDK reconnect backoff", () => {
  it("grows exponentially to its cap, with jitter in the upper half of each step", () => {
    const lo = (n: number) => backoffDelay(n, { minMs: 500, maxMs: 8_000 }, () => 0);
    const hi = (n: number) => backoffDelay(n, { minMs: 500, maxMs: 8_000 }, () => 0.999_999);
    expect([0, 1, 2, 3, 4, 5, 9].map(lo)).toEqual([250, 500, 1000, 2000, 4000, 4000, 4000]);
    expect([0, 1, 2, 3, 4, 5, 9].map(hi)).toEqual([500, 1000, 2000, 4000, 8000, 8000, 8000]);
  });

  it("spreads a crowd: 1,000 clients at the same attempt do not pick one delay", () => {
    const delays = new Set(Array.from({ length: 1000 }, () => backoffDelay(3)));
    expect(delays.size).toBeGreaterThan(500);
    for (const d of delays) expect(d).toBeGreaterThanOrEqual(2000);
  });
});

describe("dev login", () => {
  it("does not exist unless DEV_MODE is true", async () => {
    const { call } = await import("../helpers/fixtures");
    const res = await call("/dev/login", { method: "POST", headers: { "content-type": "application/json" }, body: '{"uid":"alice"}' });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: "not_found" } });
  });
});
