import { describe, expect, it } from "vitest";
import type { MessageEvent, ReceiptEvent, SendAck } from "../../src/protocol";
import { connect, friends, textTo } from "../helpers/fixtures";

describe("delivered receipts", () => {
  it("tells the sender, once per ack, the newest of their messages a device of the recipient has", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const b = await connect(bob);
    const acks: SendAck[] = [];
    for (let i = 0; i < 3; i++) acks.push(await a.ok<SendAck>(textTo(bob, `m${i}`)));
    let last: MessageEvent | undefined;
    for (let i = 0; i < 3; i++) last = (await b.next("message", (m) => (m.body as { text: string }).text === `m${i}`)) as MessageEvent;
    expect(a.seen((f) => f.type === "receipt")).toEqual([]);

    await b.ok({ type: "ack", seq: last!.seq });
    const receipt = (await a.next("receipt")) as ReceiptEvent;
    expect(receipt).toMatchObject({ kind: "delivered", chat: "dm", from: bob, to: alice, mid: acks[2]!.mid });
    expect(receipt.unread).toBeUndefined();

    // The same position again, or from another device, owes nothing more.
    await b.ok({ type: "ack", seq: last!.seq });
    const tablet = await connect(bob, { device: "tablet" });
    await tablet.ok({ type: "ack", seq: last!.seq });
    await a.ok({ type: "ping" });
    await new Promise((r) => setTimeout(r, 200));
    expect(a.seen((f) => f.type === "receipt")).toHaveLength(1);
    // Bob's devices get his receipt too (it is in his inbox: no hole in their stream).
    expect(b.seen((f) => f.type === "receipt")).toEqual([expect.objectContaining({ kind: "delivered", from: bob, to: alice })]);
  });

  it("names each peer's newest message, and never a message of the recipient's own", async () => {
    const [alice, bob] = await friends();
    const [carol] = await friends();
    const { befriend } = await import("../helpers/fixtures");
    await befriend(carol, bob);
    const a = await connect(alice);
    const b = await connect(bob);
    const c = await connect(carol);
    const fromAlice = await a.ok<SendAck>(textTo(bob, "from alice"));
    await b.next("message", (m) => m.from === alice);
    await b.ok<SendAck>(textTo(alice, "bob's own"));
    const fromCarol = await c.ok<SendAck>(textTo(bob, "from carol"));
    const got = (await b.next("message", (m) => m.from === carol)) as MessageEvent;
    await b.ok({ type: "ack", seq: got.seq });
    expect(await a.next("receipt")).toMatchObject({ kind: "delivered", from: bob, mid: fromAlice.mid });
    expect(await c.next("receipt")).toMatchObject({ kind: "delivered", from: bob, mid: fromCarol.mid });
  });

  it("keeps read receipts apart: reading sends a read receipt, without kind", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const b = await connect(bob);
    const sent = await a.ok<SendAck>(textTo(bob, "read me"));
    await b.next("message");
    await b.ok({ type: "read", peer: alice, mid: sent.mid });
    const receipt = (await a.next("receipt")) as ReceiptEvent;
    expect(receipt.kind).toBeUndefined();
    expect(receipt).toMatchObject({ from: bob, mid: sent.mid });
  });
});
