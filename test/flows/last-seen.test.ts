import { describe, expect, it } from "vitest";
import { api, befriend, connect, createUser, expectJson, friends } from "../helpers/fixtures";

interface Seen {
  uid: string;
  online: boolean;
  lastSeen: number | null;
}

/** Alice connects and leaves; Bob, her friend, watches. */
async function aliceCameAndWent() {
  const [alice, bob] = await friends();
  const b = await connect(bob);
  const a = await connect(alice);
  await b.next("presence", (p) => p.uid === alice && p.online);
  const before = Date.now();
  a.close();
  await b.next("presence", (p) => p.uid === alice && !p.online);
  return { alice, bob, b, before };
}

describe("last seen", () => {
  it("tells a friend when the user's last device left, and that they are online while they are", async () => {
    const { alice, b, before } = await aliceCameAndWent();
    const { users } = await b.ok<{ users: Seen[] }>({ type: "last_seen", uids: [alice] });
    expect(users).toHaveLength(1);
    expect(users[0]).toMatchObject({ uid: alice, online: false });
    expect(users[0]!.lastSeen).toBeGreaterThanOrEqual(before - 50);
    expect(users[0]!.lastSeen).toBeLessThanOrEqual(Date.now());
    const again = await connect(alice);
    await b.next("presence", (p) => p.uid === alice && p.online);
    expect((await b.ok<{ users: Seen[] }>({ type: "last_seen", uids: [alice] })).users[0]).toMatchObject({ online: true, lastSeen: users[0]!.lastSeen });
    again.close();
  });

  it("answers only about friends", async () => {
    const { alice } = await aliceCameAndWent();
    const stranger = await connect(await createUser());
    expect(await stranger.ok({ type: "last_seen", uids: [alice] })).toEqual({ users: [] });
  });

  it("is hidden from everyone once the user chooses nobody, and shown again from their next visit", async () => {
    const { alice, bob, b } = await aliceCameAndWent();
    const a = await connect(alice);
    await b.next("presence", (p) => p.uid === alice && p.online);
    expect(await a.ok({ type: "privacy", lastSeen: "nobody" })).toEqual({ lastSeen: "nobody", changed: true });
    expect(await a.ok({ type: "privacy", lastSeen: "nobody" })).toEqual({ lastSeen: "nobody", changed: false });
    a.close();
    await b.next("presence", (p) => p.uid === alice && !p.online);
    expect((await b.ok<{ users: Seen[] }>({ type: "last_seen", uids: [alice] })).users).toEqual([{ uid: alice, online: false, lastSeen: null }]);
    expect(await expectJson(await api("GET", `/api/v1/users/${alice}/last-seen`), 200)).toEqual({ uid: alice, online: false, lastSeen: null });

    const back = await connect(alice);
    await b.next("presence", (p) => p.uid === alice && p.online);
    await back.ok({ type: "privacy", lastSeen: "friends" });
    back.close();
    await b.next("presence", (p) => p.uid === alice && !p.online);
    expect((await b.ok<{ users: Seen[] }>({ type: "last_seen", uids: [alice, bob] })).users[0]!.lastSeen).not.toBeNull();
  });

  it("serves the backend over HTTP", async () => {
    const { alice, before } = await aliceCameAndWent();
    const seen = await expectJson<Seen>(await api("GET", `/api/v1/users/${alice}/last-seen`), 200);
    expect(seen).toMatchObject({ uid: alice, online: false });
    expect(seen.lastSeen).toBeGreaterThanOrEqual(before - 50);
    const never = await createUser();
    await befriend(alice, never);
    expect(await expectJson(await api("GET", `/api/v1/users/${never}/last-seen`), 200)).toEqual({ uid: never, online: false, lastSeen: null });
    expect((await api("GET", `/api/v1/users/nobody_${Date.now()}/last-seen`)).status).toBe(404);
  });
});
