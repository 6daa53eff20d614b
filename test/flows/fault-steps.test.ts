import { abortAllDurableObjects, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { MessageEvent, SendAck, SyncResult } from "../../src/protocol";
import { api, connect, friends, textTo } from "../helpers/fixtures";

async function sendMany(c: Awaited<ReturnType<typeof connect>>, to: string, n: number, tag: string): Promise<SendAck[]> {
  const acks: SendAck[] = [];
  for (let i = 0; i < n; i++) acks.push(await c.ok<SendAck>(textTo(to, `${tag}${i}`, `${tag}-${i}`)));
  return acks;
}

describe("faults in the middle of a step", () => {
  it("a sync cut off by a restart resumes from the last applied seq: every event once, in order", async () => {
    const [alice, bob] = await friends();
    const acks = await sendMany(await connect(alice), bob, 30, "s");
    const b = await connect(bob, { device: "phone" });
    const first = await b.ok<SyncResult>({ type: "sync", after: 0, limit: 10 });
    b.send({ type: "sync", id: "cut", after: first.events.at(-1)!.seq, limit: 10 }); // its answer may never come
    await abortAllDurableObjects();
    await b.closed;
    const again = await connect(bob, { device: "phone", since: first.events.at(-1)!.seq });
    const rest = await again.next("catchup");
    const mids = [...first.events, ...rest.events].filter((e): e is MessageEvent => e.type === "message").map((e) => e.mid);
    expect(mids).toEqual(acks.map((a) => a.mid));
    expect(rest.more).toBe(false);
  });

  it("retention cut off by a restart runs again from the alarm and leaves an explicit gap, never a hole", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    await sendMany(a, bob, 3, "old");
    const bobStub = env.USERS.getByName(bob);
    await runInDurableObject(bobStub, (_o, s) => s.storage.sql.exec("UPDATE inbox SET at = ?", Date.now() - 8 * 24 * 3600 * 1000));
    const fresh = await sendMany(a, bob, 2, "fresh");
    await abortAllDurableObjects(); // before the alarm that trims; old stubs die with it
    expect(await runDurableObjectAlarm(env.USERS.getByName(bob))).toBe(true);
    const b = await connect(bob);
    const page = await b.ok<SyncResult>({ type: "sync", after: 0 });
    expect(page.gap).toEqual({ from: 1, to: 3 });
    expect(page.events.filter((e): e is MessageEvent => e.type === "message").map((e) => e.mid)).toEqual(fresh.map((f) => f.mid));
    expect(page.events.map((e) => e.seq)).toEqual([4, 5]);
  });

  it("a request replayed after closeClient is the same message, not a second one", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice, { device: "laptop" });
    const frame = textTo(bob, "only once", "replayed-cmid");
    const ack = await a.ok<SendAck>(frame);
    expect((await api("POST", `/api/v1/users/${alice}/disconnect`, { device: "laptop", reason: "logged out" })).status).toBe(200);
    expect((await a.closed).code).toBe(4501);
    const back = await connect(alice, { device: "laptop" });
    expect(await back.ok<SendAck>(frame)).toEqual(ack);
    const b = await connect(bob);
    const page = await b.ok<SyncResult>({ type: "sync", after: 0 });
    expect(page.events.filter((e) => e.type === "message").map((e) => (e as MessageEvent).mid)).toEqual([ack.mid]);
  });
});
