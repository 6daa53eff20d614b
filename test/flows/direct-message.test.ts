import { describe, expect, it } from "vitest";
import type { MessageEvent, ReplyFrame, SendAck } from "../../src/protocol";
import { api, befriend, connect, createUser, friends, textTo, uniqueId } from "../helpers/fixtures";

function errorOf(reply: ReplyFrame) {
  if (reply.ok) throw new Error(`expected an error reply, got ${JSON.stringify(reply)}`);
  return reply.error;
}

describe("private messages", () => {
  it("acks the sender with mid, seq and ts, and pushes the message to the recipient", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const b = await connect(bob);
    const ack = await a.ok<SendAck>(textTo(bob, "hi bob", "c1"));
    expect(ack.mid).toMatch(/^[0-9A-Z]{26}$/);
    expect(ack.seq).toBe(1);
    const push = await b.next("message");
    expect(push).toMatchObject({
      mid: ack.mid, from: alice, to: bob, chat: "dm", kind: "text",
      body: { text: "hi bob" }, seq: 1, ts: ack.ts
    });
    expect(push).not.toHaveProperty("cmid");
    expect(push).not.toHaveProperty("device");
  });

  it("reaches every device of the recipient and the sender's other devices, never echoing to the sending device", async () => {
    const [alice, bob] = await friends();
    const phone = await connect(alice, { device: "phone" });
    const laptop = await connect(alice, { device: "laptop" });
    const bobPhone = await connect(bob, { device: "phone" });
    const bobTab = await connect(bob, { device: "tab" });

    const ack = await phone.ok<SendAck>(textTo(bob, "multi", "m1"));
    for (const dev of [bobPhone, bobTab]) {
      expect(await dev.next("message")).toMatchObject({ mid: ack.mid, from: alice, to: bob });
    }
    const own = await laptop.next("message");
    expect(own).toMatchObject({ mid: ack.mid, from: alice, to: bob, seq: ack.seq, cmid: "m1", device: "phone" });
    // The sender's own push would precede its ack on the same socket.
    expect(phone.seen((f) => f.type === "message")).toEqual([]);
  });

  it("refuses a non-friend with `stranger` and stores nothing on either side", async () => {
    const alice = await createUser();
    const mallory = await createUser();
    const a = await connect(alice);
    const m = await connect(mallory);
    const err = errorOf(await m.request(textTo(alice, "let me in")));
    expect(err).toMatchObject({ code: "stranger", retryable: false });
    expect(await m.ok({ type: "sync", after: 0 })).toMatchObject({ events: [], head: 0 });
    expect(await a.ok({ type: "sync", after: 0 })).toMatchObject({ events: [], head: 0 });
    expect(a.seen((f) => f.type === "message")).toEqual([]);
  });

  it("answers `unknown_user` for a recipient that does not exist", async () => {
    const alice = await createUser();
    const a = await connect(alice);
    const err = errorOf(await a.request(textTo(uniqueId("ghost"), "hello?")));
    expect(err.code).toBe("unknown_user");
  });

  it("rejects a frame whose `from` names someone else, and accepts one naming the sender", async () => {
    const [alice, bob] = await friends();
    const eve = await createUser();
    await befriend(eve, bob);
    const e = await connect(eve);
    const b = await connect(bob);
    const forged = errorOf(await e.request({ ...textTo(bob, "I am alice"), from: alice }));
    expect(forged.code).toBe("forged_sender");
    const honest = await e.ok<SendAck>({ ...textTo(bob, "I am eve"), from: eve });
    const push = await b.next("message");
    expect(push).toMatchObject({ mid: honest.mid, from: eve });
    expect(b.seen((f) => f.type === "message")).toHaveLength(1);
  });

  it("treats a resend with the same cmid as the same message: same ack, one stored copy, one delivery", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const b = await connect(bob);
    const frame = textTo(bob, "exactly once", "same-cmid");
    const first = await a.ok<SendAck>(frame);
    const second = await a.ok<SendAck>(frame);
    const [third, fourth] = await Promise.all([a.ok<SendAck>(frame), a.ok<SendAck>(frame)]);
    for (const again of [second, third, fourth]) expect(again).toEqual(first);
    await b.next("message");
    // A later message proves the pipe is flushed: nothing else arrived before it.
    const later = await a.ok<SendAck>(textTo(bob, "next"));
    await b.next("message", (m) => m.mid === later.mid);
    expect(b.seen((f) => f.type === "message").map((f) => (f as MessageEvent).mid)).toEqual([first.mid, later.mid]);
    const bobInbox = await b.ok<{ events: MessageEvent[] }>({ type: "sync", after: 0 });
    expect(bobInbox.events.map((e) => e.mid)).toEqual([first.mid, later.mid]);
  });

  it("stops delivery as soon as the friendship is removed, despite the cached friend list", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    await a.ok(textTo(bob, "warm the cache"));
    const res = await api("DELETE", `/api/v1/friendships/${alice}/${bob}`);
    expect(res.status).toBe(204);
    const err = errorOf(await a.request(textTo(bob, "still there?")));
    expect(err.code).toBe("stranger");
    const b = await connect(bob);
    const inbox = await b.ok<{ events: MessageEvent[] }>({ type: "sync", after: 0 });
    expect(inbox.events.map((e) => (e.body as { text: string }).text)).toEqual(["warm the cache"]);
  });

  it("orders a sender's messages in the recipient's inbox as they were acked", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const acks = await Promise.all(
      Array.from({ length: 25 }, (_, i) => a.ok<SendAck>(textTo(bob, `n${i}`)))
    );
    const b = await connect(bob);
    const page = await b.ok<{ events: MessageEvent[] }>({ type: "sync", after: 0 });
    expect(page.events.map((e) => e.seq)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(new Set(page.events.map((e) => e.mid))).toEqual(new Set(acks.map((x) => x.mid)));
    expect(acks.map((x) => x.seq)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
  });
});
