import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Costs, SendAck } from "../../src/protocol";
import { api, connect, friends, textTo } from "../helpers/fixtures";

async function costs(reset = false): Promise<Costs> {
  return (await (await api("GET", `/api/v1/metrics${reset ? "?reset=1" : ""}`)).json()) as Costs;
}

/** Two connected friends, warmed by one message each way (friend lists read, alarms set). */
async function pair() {
  const [alice, bob] = await friends();
  const a = await connect(alice);
  const b = await connect(bob);
  await a.ok<SendAck>(textTo(bob, "warm"));
  await b.next("message");
  await b.ok<SendAck>(textTo(alice, "warm too"));
  await a.next("message");
  await new Promise((r) => setTimeout(r, 2_500)); // delivery watermarks written, presence done
  return { alice, bob, a, b };
}

describe("what a direct message costs", () => {
  it("writes four SQLite rows: each copy and one index entry for it (the sender's by cmid); nothing per conversation", async () => {
    const { bob, a, b } = await pair();
    await costs(true);
    const N = 10;
    for (let i = 0; i < N; i++) {
      await a.ok<SendAck>(textTo(bob, `m${i}`));
      await b.next("message", (m) => (m.body as { text: string }).text === `m${i}`);
    }
    await new Promise((r) => setTimeout(r, 2_500));
    const c = await costs(true);
    const written = (c.rowsWritten + c.kvWrites + c.alarmsSet) / N;
    // Before: 11 (a pending index entry and its clearing, two conversation rows
    // and their activity index), then 5 (the sender's copy had an id and a cmid index entry).
    expect(written).toBeLessThanOrEqual(4.2);
    expect(c.alarmsSet).toBe(0);
    expect(c.d1Queries).toBe(0);
    expect(c.calls).toEqual({ "UserObject.webSocketMessage": N, "UserObject.deliver": N });
  });

  it("finds a message the sender stored before sent copies were keyed by cmid: a resend is the same message, recall works", async () => {
    const { alice, bob, a, b } = await pair();
    const first = await a.ok<SendAck>(textTo(bob, "old layout", "legacy-1"));
    await b.next("message", (m) => m.mid === first.mid);
    // Rewrite the sender's row as it was stored before: eid = mid, cmid in its indexed column.
    const stub = env.USERS.getByName(alice);
    await runInDurableObject(stub, (_o, s) => {
      s.storage.sql.exec("UPDATE inbox SET eid = json_extract(event, '$.mid'), cmid = substr(eid, 3) WHERE eid = 'c:legacy-1'");
    });
    await evictDurableObject(stub);
    const again = await a.ok<SendAck>(textTo(bob, "old layout", "legacy-1"));
    expect(again).toMatchObject({ mid: first.mid, seq: first.seq });
    const fresh = await a.ok<SendAck>(textTo(bob, "new layout", "legacy-2"));
    expect(fresh.seq).toBe(first.seq! + 1);
    await b.next("message", (m) => m.mid === fresh.mid);
    expect(b.seen((f) => f.type === "message" && f.mid === first.mid)).toHaveLength(1); // the resend stored and sent nothing
    await a.ok({ type: "recall", mid: first.mid });
    const update = await b.next("update");
    expect(update).toMatchObject({ op: "recall", mid: first.mid });
  });

  it("sends after hibernation without reading D1: the friend list is kept in the object", async () => {
    const { alice, bob, a, b } = await pair();
    await evictDurableObject(env.USERS.getByName(alice)); // memory gone, sockets kept
    await costs(true);
    await a.ok<SendAck>(textTo(bob, "after a nap"));
    await b.next("message", (m) => (m.body as { text: string }).text === "after a nap");
    expect((await costs()).d1Queries).toBe(0);
  });

  it("arms no alarm for a delivery that went through, only the far retention one", async () => {
    const { alice, bob, a, b } = await pair();
    const stub = env.USERS.getByName(alice);
    await runInDurableObject(stub, (_o, s) => s.storage.deleteAlarm());
    await evictDurableObject(stub);
    await a.ok<SendAck>(textTo(bob, "no alarm for me"));
    await b.next("message", (m) => (m.body as { text: string }).text === "no alarm for me");
    const at = await runInDurableObject(stub, (_o, s) => s.storage.getAlarm());
    // Retention of the oldest event, a week away (or none); no retry 30 s out.
    if (at !== null) expect(at).toBeGreaterThan(Date.now() + 6 * 24 * 3600 * 1000);
  });
});
