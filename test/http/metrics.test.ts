import { describe, expect, it } from "vitest";
import type { Costs, SendAck } from "../../src/protocol";
import { api, connect, friends, textTo } from "../helpers/fixtures";


async function costs(reset = false): Promise<Costs> {
  const res = await api("GET", `/api/v1/metrics${reset ? "?reset=1" : ""}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Costs;
}

describe("cost counters", () => {
  it("count rows, object calls and D1 statements of real traffic, and reset on request", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const b = await connect(bob);
    // Let the connects' background work (presence, groups) finish first.
    await new Promise((r) => setTimeout(r, 500));
    await costs(true);
    await a.ok<SendAck>(textTo(bob, "hi"));
    await b.next("message");
    const c = await costs(true);
    expect(c.rowsWritten).toBeGreaterThan(0);
    expect(c.rowsRead).toBeGreaterThan(0);
    expect(c.calls["UserObject.webSocketMessage"]).toBeGreaterThanOrEqual(1);
    expect(c.calls["UserObject.deliver"]).toBe(1);
    // The friend list was read at connect: a message queries no D1.
    expect(c.d1Queries).toBe(0);
    expect((await api("GET", `/api/v1/users/${alice}`)).status).toBe(200);
    const lookup = await costs(true);
    expect(lookup.d1Queries).toBeGreaterThanOrEqual(1);
    expect(lookup.d1Statements).toBeGreaterThanOrEqual(lookup.d1Queries);
    // Reset: the message's calls are not counted again.
    const after = await costs();
    expect(after.calls["UserObject.deliver"]).toBeUndefined();
    expect(after.d1Queries).toBe(0);
  });

  it("needs the API key", async () => {
    expect((await api("GET", "/api/v1/metrics", undefined, "wrong")).status).toBe(401);
  });
});
