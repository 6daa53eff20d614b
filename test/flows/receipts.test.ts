import { describe, expect, it } from "vitest";
import type { ReceiptEvent, SendAck, SyncResult } from "../../src/protocol";
import { connect, createUser, friends, textTo } from "../helpers/fixtures";

describe("read receipts", () => {
  it("tells the other party's devices and the reader's other devices, and stores the receipt for sync", async () => {
    const [alice, bob] = await friends();
    const aPhone = await connect(alice, { device: "phone" });
    const aLaptop = await connect(alice, { device: "laptop" });
    const bPhone = await connect(bob, { device: "phone" });
    const bTab = await connect(bob, { device: "tab" });
    const ack = await aPhone.ok<SendAck>(textTo(bob, "read me"));
    await bPhone.next("message");

    const result = await bPhone.ok<{ seq: number }>({ type: "read", peer: alice, mid: ack.mid });
    const expected = { type: "receipt", chat: "dm", from: bob, to: alice, mid: ack.mid };
    const onTab = await bTab.next("receipt");
    expect(onTab).toMatchObject({ ...expected, seq: result.seq });
    for (const dev of [aPhone, aLaptop]) expect(await dev.next("receipt")).toMatchObject(expected);
    expect(bPhone.seen((f) => f.type === "receipt")).toEqual([]);

    // Alice's offline devices learn it on sync.
    const page = await aPhone.ok<SyncResult>({ type: "sync", after: ack.seq });
    expect(page.events).toEqual([expect.objectContaining(expected)]);
    expect((page.events[0] as ReceiptEvent).eid).toBe(onTab.eid);
  });

  it("does not repeat a receipt for a point already read", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const b = await connect(bob);
    const first = await a.ok<SendAck>(textTo(bob, "one"));
    const second = await a.ok<SendAck>(textTo(bob, "two"));
    expect((await b.ok<{ seq: number | null }>({ type: "read", peer: alice, mid: second.mid })).seq).not.toBeNull();
    expect(await b.ok({ type: "read", peer: alice, mid: first.mid })).toEqual({ seq: null });
    expect(await b.ok({ type: "read", peer: alice, mid: second.mid })).toEqual({ seq: null });
    await a.next("receipt");
    const page = await a.ok<SyncResult>({ type: "sync", after: 0 });
    expect(page.events.filter((e) => e.type === "receipt")).toHaveLength(1);
  });

  it("refuses a receipt for a message outside the conversation", async () => {
    const [alice, bob] = await friends();
    const carol = await createUser();
    const a = await connect(alice);
    const b = await connect(bob);
    const ack = await a.ok<SendAck>(textTo(bob, "for bob"));
    const reply = await b.request({ type: "read", peer: carol, mid: ack.mid });
    expect(reply).toMatchObject({ ok: false, error: { code: "unknown_message" } });
    const bogus = await b.request({ type: "read", peer: alice, mid: "01HZZZZZZZZZZZZZZZZZZZZZZZ" });
    expect(bogus).toMatchObject({ ok: false, error: { code: "unknown_message" } });
  });
});
