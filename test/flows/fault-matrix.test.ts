import { abortAllDurableObjects, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { InboxEvent, MessageEvent, SendAck, SyncResult } from "../../src/protocol";
import { connect, friends, textTo } from "../helpers/fixtures";
import { bulkUsers, drainFanout, groupText, makeGroup, streamOf } from "../helpers/groups";

/** The two faults: a graceful eviction (hibernate and close) of one object, or every object aborted at once. */
const FAULTS = {
  evict: (stub: DurableObjectStub) => evictDurableObject(stub),
  abort: () => abortAllDurableObjects()
} as const;

async function inbox(uid: string): Promise<InboxEvent[]> {
  const events = await runInDurableObject(env.USERS.getByName(uid), (_o, s) =>
    s.storage.sql.exec<{ seq: number; event: string }>("SELECT seq, event FROM inbox ORDER BY seq").toArray()
  );
  return events.map((r) => ({ ...(JSON.parse(r.event) as object), seq: r.seq }) as InboxEvent);
}

const messageMids = (events: InboxEvent[]) => events.filter((e): e is MessageEvent => e.type === "message").map((e) => e.mid);

/** Fails naming the user, the message and the step when a copy is missing or doubled. */
function expectOnce(uid: string, events: InboxEvent[], mids: string[], step: string): void {
  const have = messageMids(events);
  for (const mid of mids) {
    const n = have.filter((m) => m === mid).length;
    expect(n, `${step}: message ${mid} is in ${uid}'s inbox or stream ${n} times`).toBe(1);
  }
}

describe.each(Object.keys(FAULTS) as (keyof typeof FAULTS)[])("fault: %s", (fault) => {
  it("private delivery: the sender's object fails right after the ack; its alarm re-delivers and the recipient keeps one copy", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const acks = [await a.ok<SendAck>(textTo(bob, "one")), await a.ok<SendAck>(textTo(bob, "two"))];
    // Delivery marks wait in memory for a write to ride along: the fault loses them.
    await FAULTS[fault](env.USERS.getByName(alice));
    await runInDurableObject(env.USERS.getByName(alice), (_o, s) => s.storage.setAlarm(Date.now()));
    await runDurableObjectAlarm(env.USERS.getByName(alice));
    expectOnce(bob, await inbox(bob), acks.map((x) => x.mid), "private delivery after a sender fault");
    expectOnce(alice, await inbox(alice), acks.map((x) => x.mid), "the sender's own copy");
  });

  it("private delivery: the recipient's object fails between two messages; both arrive once, in order", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const first = await a.ok<SendAck>(textTo(bob, "before"));
    await FAULTS[fault](env.USERS.getByName(bob));
    const b = await connect(bob);
    const second = await (fault === "abort" ? connect(alice) : Promise.resolve(a)).then((c) => c.ok<SendAck>(textTo(bob, "after")));
    expect(messageMids(await inbox(bob))).toEqual([first.mid, second.mid]);
    expect((await b.next("message")).mid).toBe(second.mid);
  });

  it("group fan-out: the group's object fails mid push; every member's stream holds the message once", async () => {
    const [owner] = await friends();
    const members = await bulkUsers(130);
    await Promise.all(members.slice(0, 30).map((uid) => connect(uid)));
    const o = await connect(owner);
    const g = await makeGroup(o, members);
    await drainFanout(g.id);
    const ack = await o.ok<SendAck>(groupText(g.id, "to all"));
    await FAULTS[fault](env.GROUPS.getByName(g.id));
    await drainFanout(g.id);
    for (const m of [owner, ...members.filter((_, i) => i % 13 === 0)]) {
      const stream = (await streamOf(m, g.id)) as unknown as InboxEvent[];
      expectOnce(m, stream, [ack.mid], "group fan-out after a fault");
      expect(await inbox(m), "stored once, in the group").toEqual([]);
    }
  });

  it("sync: the recipient's object fails between two pages; resuming from the last seq gives the rest once", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const acks: SendAck[] = [];
    for (let i = 0; i < 12; i++) acks.push(await a.ok<SendAck>(textTo(bob, `m${i}`)));
    const b = await connect(bob);
    const first = await b.ok<SyncResult>({ type: "sync", after: 0, limit: 5 });
    await FAULTS[fault](env.USERS.getByName(bob));
    const again = await connect(bob);
    const rest = await again.ok<SyncResult>({ type: "sync", after: first.events.at(-1)!.seq });
    expect(messageMids([...first.events, ...rest.events])).toEqual(acks.map((x) => x.mid));
  });

  it("retention expiry: the object fails before its alarm; the alarm trims once, with an explicit gap", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    for (let i = 0; i < 3; i++) await a.ok(textTo(bob, `old${i}`));
    await runInDurableObject(env.USERS.getByName(bob), (_o, s) => s.storage.sql.exec("UPDATE inbox SET at = ?", Date.now() - 8 * 24 * 3600 * 1000));
    const kept = await (fault === "abort" ? (await FAULTS.abort(), connect(alice)) : Promise.resolve(a)).then((c) => c.ok<SendAck>(textTo(bob, "kept")));
    if (fault === "evict") await FAULTS.evict(env.USERS.getByName(bob));
    await runDurableObjectAlarm(env.USERS.getByName(bob));
    const page = await (await connect(bob)).ok<SyncResult>({ type: "sync", after: 0 });
    expect(page.gap).toEqual({ from: 1, to: 3 });
    expect(messageMids(page.events)).toEqual([kept.mid]);
  });
});
