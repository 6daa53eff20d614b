import { abortAllDurableObjects } from "cloudflare:test";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { GroupStreamEvent, InboxEvent, MessageEvent, SendAck, SyncResult } from "../../src/protocol";
import type { ImClient } from "../helpers/client";
import { befriend, connect, createUser, uniqueId } from "../helpers/fixtures";
import { drainFanout, streamOf } from "../helpers/groups";

type Action =
  | { t: "connect"; u: number; d: number }
  | { t: "disconnect"; u: number; d: number }
  | { t: "send"; u: number; to: number }
  | { t: "post"; u: number }
  | { t: "join"; u: number }
  | { t: "leave"; u: number }
  | { t: "sync"; u: number; d: number }
  /** Every object restarts and every socket drops at once, as on a deploy. */
  | { t: "deploy" };

const USERS = 3;
const DEVICES = 2;
const u = fc.integer({ min: 0, max: USERS - 1 });
const d = fc.integer({ min: 0, max: DEVICES - 1 });
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ t: fc.constant("connect" as const), u, d }),
  fc.record({ t: fc.constant("disconnect" as const), u, d }),
  fc.record({ t: fc.constant("send" as const), u, to: u }),
  fc.record({ t: fc.constant("send" as const), u, to: u }),
  fc.record({ t: fc.constant("post" as const), u }),
  fc.record({ t: fc.constant("post" as const), u }),
  fc.record({ t: fc.constant("join" as const), u }),
  fc.record({ t: fc.constant("leave" as const), u }),
  fc.record({ t: fc.constant("sync" as const), u, d }),
  fc.constant({ t: "deploy" as const })
);

interface Device {
  client?: ImClient;
  /** Highest seq this device applied (its resume point). */
  seq: number;
  /** Every inbox event it received, by seq. */
  got: Map<number, InboxEvent>;
  /** Every event of the group's stream it received, by gseq. */
  gotGroup: Map<number, GroupStreamEvent>;
}

/** Applies every durable event a device's client has received so far: its inbox's and the group's. */
function absorb(dev: Device): void {
  for (const f of dev.client?.frames ?? []) {
    const events = f.type === "catchup" ? f.events : "seq" in f && typeof f.seq === "number" ? [f as InboxEvent] : [];
    for (const e of events) {
      dev.got.set(e.seq, e);
      dev.seq = Math.max(dev.seq, e.seq);
    }
    const group = f.type === "group_catchup" ? f.events : !("seq" in f) && "gseq" in f && typeof f.gseq === "number" ? [f as GroupStreamEvent] : [];
    for (const e of group) dev.gotGroup.set(e.gseq, e);
  }
}

/** An event without its `prev` (which says where the batch that carried it began). */
const withoutPrev = ({ prev: _p, ...e }: GroupStreamEvent) => e;

async function fullInbox(uid: string): Promise<InboxEvent[]> {
  const c = await connect(uid, { device: "audit" });
  const events: InboxEvent[] = [];
  for (let after = 0; ; ) {
    const page = await c.ok<SyncResult>({ type: "sync", after, limit: 500 });
    events.push(...page.events);
    if (!page.more) break;
    after = page.events.at(-1)!.seq;
  }
  c.close();
  return events;
}

/**
 * Random runs of connect, disconnect, send, group post, join, leave, sync and
 * deploys (every object restarted, every socket dropped) over three friends
 * with two devices each, checked against a model of who
 * is entitled to what: every acked message is in every entitled inbox exactly
 * once, in send order, in no other inbox, and every device's view agrees
 * with its inbox.
 */
describe("delivery model (property-based)", () => {
  it("holds for random interleavings", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(actionArb, { minLength: 10, maxLength: 40 }), async (actions) => {
        const uids = await Promise.all(Array.from({ length: USERS }, () => createUser()));
        for (let i = 0; i < USERS; i++) for (let j = i + 1; j < USERS; j++) await befriend(uids[i]!, uids[j]!);
        const devices = uids.map(() => Array.from({ length: DEVICES }, (): Device => ({ seq: 0, got: new Map(), gotGroup: new Map() })));
        const gid = uniqueId("g");
        const owner = await connect(uids[0]!, { device: "setup" });
        await owner.ok({ type: "group_create", gid, name: "model", joinPolicy: "open" });
        owner.close();
        const members = new Set([0]);
        /** Model: mids each user must hold, and send order per conversation. */
        const entitled = uids.map(() => new Set<string>());
        const dmOrder = new Map<string, string[]>();
        const groupOrder: string[] = [];
        let n = 0;
        const openDevice = (i: number) => devices[i]!.find((dv) => dv.client);

        for (const a of actions) {
          const dev = "d" in a ? devices[a.u]![a.d]! : undefined;
          switch (a.t) {
            case "connect":
              if (dev!.client) break;
              dev!.client = await connect(uids[a.u]!, { device: `d${a.d}`, since: dev!.seq });
              break;
            case "disconnect":
              if (!dev!.client) break;
              absorb(dev!);
              dev!.client.close();
              await dev!.client.closed;
              dev!.client = undefined;
              break;
            case "deploy":
              for (const dv of devices.flat()) absorb(dv);
              await abortAllDurableObjects();
              for (const dv of devices.flat()) dv.client = undefined;
              break;
            case "sync":
              if (!dev!.client) break;
              absorb(dev!);
              dev!.client.frames.push({ type: "catchup", ...(await dev!.client.ok<SyncResult>({ type: "sync", after: dev!.seq })) });
              break;
            case "send": {
              const from = openDevice(a.u);
              if (!from || a.to === a.u) break;
              const ack = await from.client!.ok<SendAck>({ type: "send", to: uids[a.to], cmid: `m${n++}`, body: { n } });
              entitled[a.u]!.add(ack.mid);
              entitled[a.to]!.add(ack.mid);
              const key = [a.u, a.to].join(">");
              dmOrder.set(key, [...(dmOrder.get(key) ?? []), ack.mid]);
              break;
            }
            case "post": {
              const from = openDevice(a.u);
              if (!from) break;
              const reply = await from.client!.request({ type: "send", chat: "group", to: gid, cmid: `p${n++}`, body: { n } });
              if (!members.has(a.u)) {
                expect(reply).toMatchObject({ ok: false, error: { code: "not_member" } });
                break;
              }
              expect(reply.ok).toBe(true);
              const mid = (reply as { result: SendAck }).result.mid;
              for (const m of members) entitled[m]!.add(mid);
              groupOrder.push(mid);
              break;
            }
            case "join":
            case "leave": {
              const c = openDevice(a.u);
              if (!c || a.u === 0) break;
              const reply = await c.client!.request({ type: a.t === "join" ? "group_join" : "group_leave", gid });
              const was = members.has(a.u);
              if (a.t === "join") {
                expect(reply.ok).toBe(!was);
                members.add(a.u);
              } else {
                expect(reply.ok).toBe(was);
                members.delete(a.u);
              }
              break;
            }
          }
        }

        await drainFanout(gid);
        for (let i = 0; i < USERS; i++) {
          // Direct messages are in the inbox; group messages are stored once, in the group: its stream.
          const inbox = await fullInbox(uids[i]!);
          const stream = await streamOf(uids[i]!, gid).catch(() => [] as GroupStreamEvent[]);
          const direct = inbox.filter((e): e is MessageEvent => e.type === "message");
          const posts = stream.filter((e) => e.type === "message");
          expect(direct.filter((m) => m.chat === "group"), `user ${i}: a group copy in the inbox`).toEqual([]);
          const mids = [...direct, ...posts].map((m) => m.mid);
          expect(new Set(mids).size, `user ${i}: a message twice`).toBe(mids.length);
          expect(new Set(mids), `user ${i}: entitled messages`).toEqual(entitled[i]!);
          for (const [key, order] of dmOrder) {
            if (!key.split(">").includes(String(i))) continue;
            expect(direct.map((m) => m.mid).filter((m) => order.includes(m)), `user ${i}: order of ${key}`).toEqual(order);
          }
          // A group's order is its gseq, which is the stream's order.
          expect(posts.map((m) => m.mid), `user ${i}: group order by gseq`).toEqual(groupOrder.filter((m) => entitled[i]!.has(m)));
          expect(stream.every((e, k) => k === 0 || e.gseq > stream[k - 1]!.gseq), `user ${i}: stream in gseq order`).toBe(true);
          const bySeq = new Map(inbox.map((e) => [e.seq, e]));
          const byGseq = new Map(stream.map((e) => [e.gseq, withoutPrev(e)]));
          for (const dev of devices[i]!) {
            absorb(dev);
            for (const [seq, e] of dev.got) expect(bySeq.get(seq), `user ${i}: device view of seq ${seq}`).toEqual(e);
            for (const [gseq, e] of dev.gotGroup) expect(byGseq.get(gseq), `user ${i}: device view of gseq ${gseq}`).toEqual(withoutPrev(e));
            dev.client?.close();
          }
        }
      }),
      { numRuns: Number(process.env.MODEL_RUNS ?? 12) }
    );
  }, 120_000);
});
