import {
  abortAllDurableObjects,
  evictDurableObject,
  runDurableObjectAlarm,
  runInDurableObject
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { MessageEvent, SendAck, SyncResult } from "../../src/protocol";
import { newEventId } from "../../src/lib/ids";
import { connect, friends, textTo } from "../helpers/fixtures";

const texts = (r: { events: unknown[] }) =>
  (r.events as MessageEvent[]).map((e) => (e.body as { text: string }).text);

async function sendMany(from: Awaited<ReturnType<typeof connect>>, to: string, n: number, prefix = "m") {
  const acks: SendAck[] = [];
  for (let i = 1; i <= n; i++) acks.push(await from.ok<SendAck>(textTo(to, `${prefix}${i}`)));
  return acks;
}

describe("offline inbox and sync", () => {
  it("stores messages for an offline user and hands over exactly the missed ones on reconnect with since", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    let b = await connect(bob, { device: "phone" });
    await sendMany(a, bob, 2, "seen");
    await b.next("message");
    const last = ((await b.next("message")) as MessageEvent).seq;
    b.close();
    await b.closed;

    await sendMany(a, bob, 3, "missed");
    b = await connect(bob, { device: "phone", since: last });
    const catchup = await b.next("catchup");
    expect(texts(catchup)).toEqual(["missed1", "missed2", "missed3"]);
    expect(catchup.events.map((e) => e.seq)).toEqual([3, 4, 5]);
    expect(catchup).toMatchObject({ more: false, head: 5 });
    expect(catchup.gap).toBeUndefined();
  });

  it("pages sync in order with `more` until the head", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    await sendMany(a, bob, 12);
    const b = await connect(bob);
    const seen: number[] = [];
    let after = 0;
    for (;;) {
      const page = await b.ok<SyncResult>({ type: "sync", after, limit: 5 });
      expect(page.events.length).toBeLessThanOrEqual(5);
      seen.push(...page.events.map((e) => e.seq));
      if (!page.more) break;
      after = page.events.at(-1)!.seq;
    }
    expect(seen).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(await b.ok<SyncResult>({ type: "sync", after: 12 })).toEqual({ events: [], more: false, head: 12 });
  });

  it("keeps the inbox across a graceful eviction with hibernated sockets", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const b = await connect(bob);
    await sendMany(a, bob, 2, "before");
    await evictDurableObject(env.USERS.getByName(bob));
    await evictDurableObject(env.USERS.getByName(alice));
    // Both sockets survive hibernation; the next frame wakes fresh instances.
    await a.ok(textTo(bob, "after"));
    expect(texts(await b.ok<SyncResult>({ type: "sync", after: 0 }))).toEqual(["before1", "before2", "after"]);
    const pushes = [await b.next("message"), await b.next("message"), await b.next("message")];
    expect(pushes.map((p) => (p as MessageEvent).seq)).toEqual([1, 2, 3]);
  });

  it("keeps queued messages and seq continuity through abortAllDurableObjects", async () => {
    const [alice, bob] = await friends();
    let a = await connect(alice);
    await sendMany(a, bob, 3, "pre");
    await abortAllDurableObjects();
    expect((await a.closed).code).not.toBe(1000);
    a = await connect(alice);
    await sendMany(a, bob, 1, "post");
    const b = await connect(bob, { since: 0 });
    const catchup = await b.next("catchup");
    expect(texts(catchup)).toEqual(["pre1", "pre2", "pre3", "post1"]);
    expect(catchup.events.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(a.welcome.head).toBe(3);
  });

  it("expires events past the TTL through the alarm and signals the gap to a device asking from before them", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    await sendMany(a, bob, 3, "old");
    const bobStub = env.USERS.getByName(bob);
    const eightDaysAgo = Date.now() - 8 * 24 * 3600 * 1000;
    await runInDurableObject(bobStub, (_o, state) => {
      state.storage.sql.exec("UPDATE inbox SET at = ?", eightDaysAgo);
    });
    await sendMany(a, bob, 1, "fresh");
    expect(await runDurableObjectAlarm(bobStub)).toBe(true);

    const b = await connect(bob);
    const page = await b.ok<SyncResult>({ type: "sync", after: 0 });
    expect(page.gap).toEqual({ from: 1, to: 3 });
    expect(texts(page)).toEqual(["fresh1"]);
    expect(page.events[0]!.seq).toBe(4);
    // A device that had everything up to the trimmed seq sees no gap.
    expect((await b.ok<SyncResult>({ type: "sync", after: 3 })).gap).toBeUndefined();
    // The alarm re-armed for the next expiry.
    const next = await runInDurableObject(bobStub, (_o, state) => state.storage.getAlarm());
    expect(next).not.toBeNull();
  });

  it("caps the inbox at INBOX_MAX through the alarm, oldest first, with a gap signal", async () => {
    const [alice, bob] = await friends();
    const bobStub = env.USERS.getByName(bob);
    // Fill past the cap directly through the delivery RPC (10,000 + 5 frames would be slow).
    const events = Array.from({ length: 10_005 }, (_, i) => ({
      type: "message" as const,
      mid: newEventId(),
      chat: "dm" as const,
      from: alice,
      to: bob,
      kind: "text",
      body: { text: `bulk${i}` },
      ts: Date.now()
    }));
    for (let i = 0; i < events.length; i += 1000) await bobStub.deliver(events.slice(i, i + 1000));
    expect(await runDurableObjectAlarm(bobStub)).toBe(true);
    const b = await connect(bob);
    const page = await b.ok<SyncResult>({ type: "sync", after: 0, limit: 2 });
    expect(page.gap).toEqual({ from: 1, to: 5 });
    expect(page.events.map((e) => e.seq)).toEqual([6, 7]);
    const count = await runInDurableObject(bobStub, (_o, state) =>
      state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM inbox").one().n
    );
    expect(count).toBe(10_000);
  });

  it("records a device's delivery ack and only moves it forward", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    await sendMany(a, bob, 3);
    const b = await connect(bob, { device: "watch" });
    expect(await b.ok({ type: "ack", seq: 2 })).toEqual({ acked: 2 });
    expect(await b.ok({ type: "ack", seq: 1 })).toEqual({ acked: 2 });
    // The first ack stored a delivered receipt for alice (seq 4): the head is 4.
    expect(await b.ok({ type: "ack", seq: 99 })).toEqual({ acked: 4 });
    b.send({ type: "ack", seq: 3 });
    expect(await b.ok({ type: "ping" })).toHaveProperty("ts");
  });

  it("retries an unconfirmed delivery from the alarm until the recipient has it, without duplicates", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const ack = await a.ok<SendAck>(textTo(bob, "once"));
    let aliceStub = env.USERS.getByName(alice);
    // Simulate a crash between storing and confirming: the delivery was never recorded, and no alarm was set for it.
    await runInDurableObject(aliceStub, async (_o, state) => {
      state.storage.sql.exec("DELETE FROM delivered; UPDATE pending_floor SET seq = 0");
      await state.storage.deleteAlarm();
    });
    // The crash also loses the delivery watermark still held in memory (and old stubs die with it).
    await abortAllDurableObjects();
    aliceStub = env.USERS.getByName(alice);
    // Starting again, the object finds what waits and arms its alarm for it.
    expect((await aliceStub.stats()).pendingDeliveries).toBe(1);
    expect(await runInDurableObject(aliceStub, (_o, state) => state.storage.getAlarm())).not.toBeNull();
    expect(await runDurableObjectAlarm(aliceStub)).toBe(true);
    expect((await aliceStub.stats()).pendingDeliveries).toBe(0);
    const b = await connect(bob);
    const page = await b.ok<SyncResult>({ type: "sync", after: 0 });
    expect(page.events.map((e) => (e as MessageEvent).mid)).toEqual([ack.mid]);
  });
});
