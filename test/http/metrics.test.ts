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
    await costs(true);
    // A first message: the sender's object loads the friend list from D1.
    await a.ok<SendAck>(textTo(bob, "hi"));
    await b.next("message");
    const c = await costs(true);
    expect(c.rowsWritten).toBeGreaterThan(0);
    expect(c.rowsRead).toBeGreaterThan(0);
    expect(c.calls["UserObject.webSocketMessage"]).toBeGreaterThanOrEqual(1);
    expect(c.calls["UserObject.deliver"]).toBe(1);
    expect(c.d1Queries).toBeGreaterThanOrEqual(1);
    expect(c.d1Statements).toBeGreaterThanOrEqual(c.d1Queries);
    // Reset: nothing has happened since.
    const after = await costs();
    expect(after.rowsWritten).toBe(0);
    expect(after.calls).toEqual({});
  });

  it("needs the API key", async () => {
    expect((await api("GET", "/api/v1/metrics", undefined, "wrong")).status).toBe(401);
  });
});
