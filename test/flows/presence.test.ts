import { describe, expect, it } from "vitest";
import type { PresenceFrame } from "../../src/protocol";
import { befriend, connect, createUser, friends } from "../helpers/fixtures";

describe("presence", () => {
  it("pushes online when a friend's first device connects and offline when the last one leaves", async () => {
    const [alice, bob] = await friends();
    const b = await connect(bob);
    const phone = await connect(alice, { device: "phone" });
    expect(await b.next("presence")).toMatchObject({ uid: alice, online: true });
    const laptop = await connect(alice, { device: "laptop" });
    phone.close();
    await phone.closed;
    laptop.close();
    await laptop.closed;
    expect(await b.next("presence")).toMatchObject({ uid: alice, online: false });
    // The phone leaving while the laptop stayed produced nothing in between.
    expect(b.seen((f) => f.type === "presence").map((f) => (f as PresenceFrame).online)).toEqual([true, false]);
  });

  it("lists online friends only, never strangers or offline friends", async () => {
    const [alice, bob] = await friends();
    const offlineFriend = await createUser();
    await befriend(alice, offlineFriend);
    const stranger = await createUser();
    await connect(stranger);
    const a = await connect(alice);
    await connect(bob);
    await a.next("presence", (p) => p.uid === bob && p.online);
    expect(await a.ok({ type: "online" })).toEqual({ friends: [bob] });
  });

  it("tells friends only, never strangers", async () => {
    const [alice, bob] = await friends();
    const stranger = await createUser();
    const s = await connect(stranger);
    const b = await connect(bob);
    const a = await connect(alice);
    await b.next("presence", (p) => p.uid === alice && p.online);
    a.close();
    // Presence runs serially per user: the offline push implies the online fan-out finished.
    await b.next("presence", (p) => p.uid === alice && !p.online);
    await s.ok({ type: "ping" });
    expect(s.seen((f) => f.type === "presence")).toEqual([]);
  });
});
