import { describe, expect, it } from "vitest";
import type { ErrorBody, MessageEvent, ReplyFrame, SendAck, SyncResult } from "../../src/protocol";
import { connect, friends, textTo } from "../helpers/fixtures";

async function errorReply(c: Awaited<ReturnType<typeof connect>>, raw: string | Uint8Array<ArrayBuffer>) {
  c.send(raw);
  const reply = await c.take<ReplyFrame>((f) => f.type === "reply" && !f.ok, "an error reply");
  if (reply.ok) throw new Error("unreachable");
  return reply as { id: unknown; error: ErrorBody };
}

describe("bad input", () => {
  it("answers each malformed frame with a coded error, keeps the socket and stores nothing", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const cases: [string | Uint8Array<ArrayBuffer>, string, unknown][] = [
      ["{not json", "invalid_json", null],
      ['"a string"', "invalid_frame", null],
      ["[1,2]", "invalid_frame", null],
      ['{"type":"teleport","id":"t1"}', "unknown_type", "t1"],
      ['{"id":"t2"}', "unknown_type", "t2"],
      [JSON.stringify({ type: "send", id: "t3", to: bob, body: "no cmid" }), "invalid_frame", "t3"],
      [JSON.stringify({ type: "send", id: 4, to: 42, cmid: "x", body: "bad to" }), "invalid_frame", 4],
      [JSON.stringify({ type: "sync", id: "t5", after: -1 }), "invalid_frame", "t5"],
      [JSON.stringify({ type: "sync", id: "t6", after: 0, limit: 100000 }), "page_too_large", "t6"],
      [JSON.stringify({ ...textTo(bob, "x"), id: "t7", to: "../etc" }), "invalid_frame", "t7"],
      [new Uint8Array(new TextEncoder().encode(JSON.stringify(textTo(bob, "binary")))), "binary_not_supported", null]
    ];
    for (const [raw, code, id] of cases) {
      const reply = await errorReply(a, raw);
      expect(reply.error.code, String(raw)).toBe(code);
      expect(reply.id, String(raw)).toEqual(id);
      expect(reply.error.retryable).toBe(false);
    }
    const deep = `{"type":"send","id":"deep","to":"${bob}","cmid":"d","body":${"[".repeat(20_000)}${"]".repeat(20_000)}}`;
    const deepReply = await errorReply(a, deep);
    expect(deepReply).toMatchObject({ id: "deep", error: { code: "invalid_frame" } });
    const fields = (await errorReply(a, JSON.stringify({ type: "send", id: "f", to: bob, body: 1 }))).error.fields;
    expect(fields).toHaveProperty("cmid");

    expect(await a.ok({ type: "sync", after: 0 })).toMatchObject({ events: [], head: 0 });
    const ack = await a.ok<SendAck>(textTo(bob, "still works"));
    expect(ack.seq).toBe(1);
  });

  it("refuses a frame over the size limit before parsing it, and the connection survives", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const b = await connect(bob);
    const big = JSON.stringify({ ...textTo(bob, "x".repeat(70_000)), id: "big" });
    const reply = await errorReply(a, big);
    expect(reply).toMatchObject({ id: "big", error: { code: "frame_too_large" } });
    const huge = JSON.stringify({ ...textTo(bob, "z".repeat(1_100_000)), id: "huge" });
    expect(await errorReply(a, huge)).toMatchObject({ id: null, error: { code: "frame_too_large" } });
    const multiByte = JSON.stringify({ ...textTo(bob, "é".repeat(33_000)), id: "mb" });
    expect(multiByte.length).toBeLessThan(65_536);
    expect((await errorReply(a, multiByte)).error.code).toBe("frame_too_large");
    const fits = await a.ok<SendAck>(textTo(bob, "y".repeat(30_000)));
    expect((await b.next("message")).mid).toBe(fits.mid);
    const page = await b.ok<SyncResult>({ type: "sync", after: 0 });
    expect(page.events).toHaveLength(1);
  });

  it("refuses a message to yourself", async () => {
    const [alice] = await friends();
    const a = await connect(alice);
    expect(await a.request(textTo(alice, "me"))).toMatchObject({ ok: false, error: { code: "bad_request" } });
  });

  it("answers every frame of a newline-separated batch, good and bad, and batches its replies", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    let messages = 0;
    a.ws.addEventListener("message", () => messages++);
    const frames = [
      { ...textTo(bob, "one"), id: "b1" },
      { type: "teleport", id: "b2" },
      { ...textTo(bob, "two"), id: "b3" },
      { ...textTo(bob, "three"), id: "b4" },
      { ...textTo(bob, "four"), id: "b5" },
      { type: "ping", id: "b6" }
    ];
    a.send(frames.map((f) => JSON.stringify(f)).join("\n"));
    const replies = await Promise.all(
      frames.map((f) => a.take<ReplyFrame>((r) => r.type === "reply" && r.id === f.id, `reply ${f.id}`))
    );
    expect(replies.map((r) => r.ok)).toEqual([true, false, true, true, true, true]);
    expect(replies[1]).toMatchObject({ error: { code: "unknown_type" } });
    // Replies ready at the same moment (the acks of one delivery) share a WebSocket message.
    expect(messages).toBeLessThan(frames.length);
    const b = await connect(bob);
    const page = await b.ok<SyncResult>({ type: "sync", after: 0 });
    expect(page.events.map((e) => (e as MessageEvent).body)).toEqual([{ text: "one" }, { text: "two" }, { text: "three" }, { text: "four" }]);
  });
});
