import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ServerFrame } from "../../src/protocol";
import { CONFIRM_AFTER_MS } from "../../src/realtime/compat/handlers";
import { connectSeed } from "../helpers/compat";
import { api, befriend, connect, createUser, expectJson } from "../helpers/fixtures";

/**
 * The seed's backend and clients unchanged: its RestfulApi controller's
 * GatewayClient calls (over `/api/v1/gateway`), and what its clients are
 * shown (`heart`, `online`, `pull` on every compat socket, each message once).
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A numeric uid, as the seed's MySQL ids are. */
const numericId = () => String(100_000 + Math.floor(Math.random() * 1e9));

/** Users with integer ids, each a friend of every other. */
async function seedUsers(n: number): Promise<string[]> {
  const uids = await Promise.all(Array.from({ length: n }, () => createUser(numericId())));
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) await befriend(uids[i]!, uids[j]!);
  return uids;
}

async function seedGroup(owner: string, members: string[], id = numericId()): Promise<string> {
  await expectJson(await api("POST", "/api/v1/groups", { id, name: "seed group", owner, members }), 201);
  return id;
}

/** One GatewayClient call, as docs/gatewayclient/Gateway.php makes it. */
async function gw<T = unknown>(method: string, args: Record<string, unknown>, status = 200): Promise<{ result: T; deliveries?: Record<string, unknown>[] }> {
  return expectJson(await api("POST", `/api/v1/gateway/${method}`, args), status);
}

const isMessage = (f: ServerFrame) => f.type === "message";

describe("the GatewayClient's calls (POST /api/v1/gateway/{method})", () => {
  it("sendToUid of the seed's chat frame with integer uids: compat gets the JSON unchanged, v1 a message from the sender, stored once per id", async () => {
    const [a, b] = await seedUsers(2);
    const sa = await connectSeed(a!);
    const sb = await connectSeed(b!);
    const va = await connect(a!);
    const vb = await connect(b!);
    // The seed's RestfulApi::sendMsg: Gateway::sendToUid($message['toUid'], json_encode($message)).
    const message = { fromUid: Number(a), toUid: Number(b), isGroup: 0, type: "text", id: 77, content: "你好" };
    const first = await gw("sendToUid", { uid: Number(b), message: JSON.stringify(message) });
    expect(first.result).toBeNull();
    expect(first.deliveries).toEqual([{ to: Number(b), as: "message", mid: expect.any(String) }]);
    expect(await sb.next("text")).toEqual(message);
    const got = await vb.take(isMessage);
    expect(got).toMatchObject({ type: "message", chat: "dm", from: a, to: b, kind: "text", body: message, mid: first.deliveries![0]!.mid });
    // The sender's devices get their own copy; their compat sockets no echo.
    expect(await va.take(isMessage)).toMatchObject({ from: a, to: b, mid: first.deliveries![0]!.mid });
    // The same frame again (a retry), and once more over the sender's own socket: one message.
    const again = await gw("sendToUid", { uid: b, message });
    expect(again.deliveries![0]!.mid).toBe(first.deliveries![0]!.mid);
    sa.send(message);
    await sa.settle();
    await sb.settle();
    expect(sb.seen("text")).toEqual([message]);
    expect(sa.seen("text")).toEqual([]);
    expect(vb.seen(isMessage)).toHaveLength(1);
  });

  it("pushes anything else unchanged to compat sockets and as a notice to v1 devices", async () => {
    const [a, b] = await seedUsers(2);
    const sb = await connectSeed(b!);
    const vb = await connect(b!);
    const system = { type: "system", content: "maintenance at 3" };
    const res = await gw("sendToUid", { uid: [b, Number(a)], message: JSON.stringify(system) });
    expect(res.deliveries).toEqual(expect.arrayContaining([{ to: Number(b), as: "notice", devices: 2 }, { to: Number(a), as: "notice", devices: 0 }]));
    expect(await sb.next("system")).toEqual(system);
    expect(await vb.next("notice")).toMatchObject({ kind: "system", body: system });
    // A chat frame naming someone else than the target is a copy for this one: a push, not a message.
    const copy = { fromUid: Number(a), toUid: 12, isGroup: 0, type: "text", id: 5, content: "fyi" };
    expect((await gw("sendToUid", { uid: b, message: copy })).deliveries).toMatchObject([{ as: "notice" }]);
    expect(await sb.next("text")).toEqual(copy);
  });

  it("pushes a frame between non-friends as the seed's backend did (no gate there), but refuses it across a block", async () => {
    const a = await createUser(numericId());
    const b = await createUser(numericId());
    const sb = await connectSeed(b);
    const vb = await connect(b);
    const hi = { fromUid: Number(a), toUid: Number(b), isGroup: 0, type: "text", id: 1, content: "hi" };
    expect((await gw("sendToUid", { uid: b, message: hi })).deliveries).toEqual([{ to: Number(b), as: "notice", devices: 2 }]);
    expect(await sb.next("text")).toEqual(hi);
    expect(await vb.next("notice")).toMatchObject({ kind: "text", body: hi });
    await expectJson(await api("POST", "/api/v1/blocks", { blocker: b, blocked: a }), 201);
    const res = await gw("sendToUid", { uid: b, message: { ...hi, id: 2 } });
    expect(res.deliveries).toEqual([{ to: Number(b), as: "message", error: { code: "blocked", message: expect.any(String) } }]);
    sb.send({ type: "pull" });
    await sb.settle();
    expect(sb.seen("text")).toEqual([hi]);
  });

  it("stores a relayed frame with no id once when the request is retried with its Idempotency-Key, and once per id however the id is typed", async () => {
    const [a, b] = await seedUsers(2);
    const sa = await connectSeed(a!);
    const sb = await connectSeed(b!);
    const noId = { fromUid: Number(a), toUid: Number(b), isGroup: 0, type: "text", content: "no id" };
    const send = () => api("POST", "/api/v1/gateway/sendToUid", { uid: b, message: noId }, undefined, { "Idempotency-Key": crypto.randomUUID().slice(0, 8) + b });
    const key = { "Idempotency-Key": `k-${b}` };
    const first = await expectJson<{ deliveries: { mid: string }[] }>(await api("POST", "/api/v1/gateway/sendToUid", { uid: b, message: noId }, undefined, key), 200);
    const again = await expectJson<{ deliveries: { mid: string }[] }>(await api("POST", "/api/v1/gateway/sendToUid", { uid: b, message: noId }, undefined, key), 200);
    expect(again.deliveries[0]!.mid).toBe(first.deliveries[0]!.mid);
    // Without the key, the same frame twice is two messages (it has no id to tell them apart).
    expect((await send()).status).toBe(200);
    // The socket frame with id 77 and the form-posted "77" are one message.
    sa.send({ toUid: Number(b), isGroup: 0, type: "text", id: 77, content: "typed" });
    await sb.next("text", (f) => f.id === 77);
    await gw("sendToUid", { uid: b, message: { fromUid: a, toUid: b, isGroup: "0", type: "text", id: "77", content: "typed" } });
    await sb.settle();
    expect(sb.seen("text").map((f) => f.content)).toEqual(["no id", "no id", "typed"]);
  });

  it("sendToGroup: a member's frame is their group message (never echoed to them); a push skips the excluded client", async () => {
    const [a, b, c] = await seedUsers(3);
    const gid = await seedGroup(a!, [b!, c!]);
    const sa = await connectSeed(a!);
    const sb = await connectSeed(b!);
    const sc = await connectSeed(c!);
    const vb = await connect(b!);
    // The seed's RestfulApi::sendGroupMsg: exclude the sender's first client.
    const clients = (await gw<string[]>("getClientIdByUid", { uid: Number(a) })).result;
    expect(clients).toEqual([sa.client]);
    const message = { fromUid: Number(a), toUid: Number(gid), isGroup: 1, type: "text", id: 900, content: "大家好" };
    const res = await gw("sendToGroup", { group: Number(gid), message: JSON.stringify(message), exclude_client: clients[0] });
    expect(res.deliveries).toEqual([{ to: Number(gid), as: "message", mid: expect.any(String) }]);
    expect(await sb.next("text")).toEqual(message);
    expect(await sc.next("text")).toEqual(message);
    expect(await vb.take(isMessage)).toMatchObject({ chat: "group", from: a, to: gid, kind: "text", body: message });
    await sa.settle();
    expect(sa.seen("text")).toEqual([]);
    // A push (not a chat frame) to the group, excluding b's compat socket: c gets it live, b's socket does not.
    const notice = { type: "announce", content: "welcome" };
    expect((await gw("sendToGroup", { group: gid, message: notice, exclude_client: [sb.client] })).deliveries).toEqual([{ to: Number(gid), as: "notice" }]);
    expect(await sc.next("announce")).toEqual(notice);
    await sb.settle();
    expect(sb.seen("announce")).toEqual([]);
  });

  it("answers the query calls as GatewayClient returns them", async () => {
    const [a, b, c] = await seedUsers(3);
    const gid = await seedGroup(a!, [b!, c!]);
    const sa = await connectSeed(a!);
    const vb = await connect(b!);
    const vbClient = `${b}:${vb.welcome.device}`;
    expect((await gw("isUidOnline", { uid: Number(a) })).result).toBe(1);
    expect((await gw("isUidOnline", { uid: c })).result).toBe(0);
    expect((await gw("isOnline", { client_id: sa.client })).result).toBe(1);
    expect((await gw("isOnline", { client_id: `${c}:gone` })).result).toBe(0);
    expect((await gw("getUidByClientId", { client_id: vbClient })).result).toBe(Number(b));
    expect((await gw("getUidByClientId", { client_id: `${c}:gone` })).result).toBeNull();
    expect((await gw("getAllUidCount", {})).result).toBeGreaterThanOrEqual(2);
    expect((await gw<number[]>("getAllUidList", {})).result).toEqual(expect.arrayContaining([Number(a), Number(b)]));
    await expect.poll(async () => (await gw("getUidListByGroup", { group: Number(gid) })).result).toEqual([Number(a), Number(b)].sort((x, y) => String(x).localeCompare(String(y))));
    expect((await gw("getUidCountByGroup", { group: gid })).result).toBe(2);
    await expect.poll(async () => (await gw<string[]>("getClientIdListByGroup", { group: gid })).result.sort()).toEqual([sa.client, vbClient].sort());
    expect((await gw("getClientIdCountByGroup", { group: gid })).result).toBe(2);
    expect((await gw("getClientSessionsByGroup", { group: gid })).result).toEqual({ [sa.client]: null, [vbClient]: null });
  });

  it("joins, leaves, dismisses, closes and binds as the GatewayClient does, by user", async () => {
    const [a, b, d] = await seedUsers(3);
    const gid = await seedGroup(a!, [b!]);
    const sd = await connectSeed(d!);
    const members = async () => ((await expectJson<{ members: { uid: string }[] }>(await api("GET", `/api/v1/groups/${gid}/members`), 200)).members.map((m) => m.uid).sort());
    expect((await gw("joinGroup", { client_id: sd.client, group: Number(gid) })).result).toBeNull();
    expect((await gw("joinGroup", { client_id: sd.client, group: gid })).result).toBeNull(); // already a member: no-op
    expect(await members()).toEqual([a, b, d].sort());
    await gw("leaveGroup", { client_id: sd.client, group: gid });
    await gw("leaveGroup", { client_id: sd.client, group: gid }); // not a member: no-op
    expect(await members()).toEqual([a, b].sort());
    // A socket's user is its token's: binding it to itself is a no-op, to anyone else refused.
    expect((await gw("bindUid", { client_id: sd.client, uid: Number(d) })).result).toBeNull();
    expect((await gw("bindUid", { client_id: sd.client, uid: a }, 403)) as unknown).toMatchObject({ error: { code: "forbidden" } });
    await gw("closeClient", { client_id: sd.client });
    expect((await sd.closed).code).toBe(4501);
    await gw("ungroup", { group: gid });
    expect(await expectJson(await api("GET", `/api/v1/groups/${gid}`), 200)).toMatchObject({ dismissedAt: expect.any(Number) });
  });

  it("refuses bad calls with coded errors", async () => {
    const a = await createUser(numericId());
    expect(await gw("isOnline", { client_id: "no-colon" }, 400)).toMatchObject({ error: { code: "bad_request", fields: { client_id: expect.any(String) } } });
    // As GatewayClient: an unknown uid is offline and has no clients; a send to one reaches the others.
    expect((await gw("isUidOnline", { uid: 424242424242 })).result).toBe(0);
    expect((await gw("getClientIdByUid", { uid: "nobody-here" })).result).toEqual([]);
    expect((await gw("sendToUid", { uid: [a, "nobody-here"], message: "x" })).deliveries).toEqual([
      { to: "nobody-here", as: "notice", error: { code: "unknown_user", message: expect.any(String) } },
      { to: Number(a), as: "notice", devices: 0 }
    ]);
    expect((await gw("sendToGroup", { group: [987654321], message: "x" })).deliveries).toMatchObject([{ to: 987654321, as: "notice", error: { code: "unknown_group" } }]);
    expect(await gw("getUidListByGroup", { group: 987654321 }, 404)).toMatchObject({ error: { code: "unknown_group" } });
    expect(await gw("sendToAll", { message: "x", exclude_client_id: [`${a}:x`] }, 400)).toMatchObject({ error: { code: "bad_request" } });
    expect((await api("POST", "/api/v1/gateway/setSession", { client_id: `${a}:x`, session: {} })).status).toBe(404);
    expect((await api("POST", "/api/v1/gateway/isUidOnline", { uid: a }, "wrong-key")).status).toBe(401);
  });
});

describe("what seed clients are shown", () => {
  it("answers heart on every compat socket of the user, with group 10000's clients (members only) and the asking client", async () => {
    const [a, b, outsider] = await seedUsers(3);
    await seedGroup(a!, [b!], "10000");
    const a1 = await connectSeed(a!);
    const a2 = await connectSeed(a!);
    const vb = await connect(b!);
    const group = { [a1.client]: null, [a2.client]: null, [`${b}:${vb.welcome.device}`]: null };
    // The group learns who is online as their objects attach (hearts reuse an answer up to 30 s old; this call asks afresh).
    await expect.poll(async () => (await gw("getClientSessionsByGroup", { group: 10000 })).result).toEqual(group);
    a1.send({ type: "heart" });
    for (const s of [a1, a2]) expect(await s.next("heart", (f) => f.client === a1.client)).toEqual({ type: "heart", group, client: a1.client });
    const so = await connectSeed(outsider!);
    so.send({ type: "heart" });
    expect(await so.next("heart")).toEqual({ type: "heart", group: [], client: so.client });
  });

  it("sends online and pull answers to every compat socket of the user", async () => {
    const [a, b] = await seedUsers(2);
    const vb = await connect(b!);
    await vb.ok({ type: "send", cmid: crypto.randomUUID(), chat: "dm", to: a, kind: "text", body: { text: "while you were out" } });
    const a1 = await connectSeed(a!);
    const a2 = await connectSeed(a!);
    a1.send({ type: "online" });
    for (const s of [a1, a2]) expect(await s.next("online")).toEqual({ list: [Number(b)], type: "online" });
    a1.send({ type: "pull" });
    for (const s of [a1, a2]) {
      const pull = await s.next("pull");
      expect((pull.message as string[]).map((m) => JSON.parse(m) as Record<string, unknown>)).toMatchObject([{ fromUid: Number(b), type: "text", content: { text: "while you were out" } }]);
    }
  });

  it("never offers in a pull what another open compat socket of the user was shown live", async () => {
    const [a, b] = await seedUsers(2);
    const gid = await seedGroup(b!, [a!]);
    const a1 = await connectSeed(a!);
    const sb = await connectSeed(b!);
    sb.send({ toUid: Number(gid), isGroup: 1, type: "text", id: "g1", content: "group hello" });
    await a1.next("text", (f) => f.id === "g1");
    // A second tab opens and pulls: the pull reply reaches a1 too, which showed g1 already.
    const a2 = await connectSeed(a!);
    a2.send({ type: "pull" });
    await a2.settle();
    await a1.settle();
    expect(a1.seen("text")).toHaveLength(1);
    expect([...a1.seen("pull"), ...a2.seen("pull")]).toEqual([]);
  });

  it("never offers in a pull what a compat socket was just shown live, in a group or a direct chat", async () => {
    const [a, b] = await seedUsers(2);
    const gid = await seedGroup(b!, [a!]);
    const a1 = await connectSeed(a!);
    const sb = await connectSeed(b!);
    sb.send({ toUid: Number(gid), isGroup: 1, type: "text", id: "g1", content: "group hello" });
    sb.send({ toUid: Number(a), isGroup: 0, type: "text", id: "d1", content: "dm hello" });
    await a1.next("text", (f) => f.id === "g1");
    await a1.next("text", (f) => f.id === "d1");
    // Within the confirmation delay: nothing is confirmed yet, and still nothing is offered twice.
    a1.send({ type: "pull" });
    await a1.settle();
    expect(a1.seen("pull")).toEqual([]);
    expect(a1.seen("text")).toHaveLength(2);
  });

  it("remembers what a compat socket was shown of a group across hibernation, and its heart confirms it afterwards", async () => {
    const [a, b] = await seedUsers(2);
    const gid = await seedGroup(b!, [a!]);
    const a1 = await connectSeed(a!);
    const sb = await connectSeed(b!);
    sb.send({ toUid: Number(gid), isGroup: 1, type: "text", id: "h1", content: "before the nap" });
    await a1.next("text", (f) => f.id === "h1");
    await evictDurableObject(env.USERS.getByName(a!)); // memory gone, sockets kept, as a hibernation
    a1.send({ type: "pull" });
    await a1.settle();
    expect(a1.seen("pull")).toEqual([]);
    // Its heart, well after the push, confirms it: a later socket is not offered it either.
    await sleep(CONFIRM_AFTER_MS + 100);
    await a1.settle();
    a1.close(4000);
    await a1.closed;
    const a2 = await connectSeed(a!);
    a2.send({ type: "pull" });
    await a2.settle();
    expect(a2.seen("pull")).toEqual([]);
    expect(a1.seen("text")).toHaveLength(1);
  });

  it("hands what a dying compat socket held to the user's other open one, and offers it again only when none had it", async () => {
    const [a, b] = await seedUsers(2);
    const a1 = await connectSeed(a!);
    const a2 = await connectSeed(a!);
    const sb = await connectSeed(b!);
    sb.send({ toUid: Number(a), isGroup: 0, type: "text", id: "x1", content: "both saw me" });
    await a1.next("text");
    await a2.next("text");
    // The queue names one socket as the holder: that one dies (not a normal close: it confirmed nothing).
    const holder = async () =>
      runInDurableObject(env.USERS.getByName(a!), (_o, s) => s.storage.sql.exec<{ d: string | null }>("SELECT handed_to AS d FROM compat_queue").one().d);
    const [dying, staying] = (await holder()) === a1.client.split(":")[1] ? [a1, a2] : [a2, a1];
    dying.close(4000);
    await dying.closed;
    await expect.poll(holder).toBe(staying.client.split(":")[1]);
    staying.send({ type: "pull" });
    await staying.settle();
    expect(staying.seen("pull")).toEqual([]);
    // The other dies too, unconfirmed, with no other socket open: the next socket is offered it (nothing lost).
    staying.close(4000);
    await staying.closed;
    await sleep(50);
    const a3 = await connectSeed(a!);
    a3.send({ type: "pull" });
    const pull = await a3.next("pull");
    expect((pull.message as string[]).map((m) => JSON.parse(m) as unknown)).toEqual([{ fromUid: b, toUid: Number(a), isGroup: 0, type: "text", id: "x1", content: "both saw me" }]);
  });
});

describe("a replay of the seed's client frames", () => {
  it("runs a seed session frame by frame, every field as the seed's clients fill it, and answers in the seed's shapes", async () => {
    const [a, b] = await seedUsers(2);
    const [A, B] = [Number(a), Number(b)];
    const gid = Number(numericId());
    // Every frame carries fromUid, toUid, isGroup, type and id, as the mini-program's do.
    const frame = (from: number, type: string, toUid: number | "", isGroup: 0 | 1, id: number | "", extra: Record<string, unknown> = {}) =>
      JSON.stringify({ fromUid: from, toUid, isGroup, type, id, ...extra });
    const sa = await connectSeed(a!);
    sa.send(frame(A, "online", "", 0, ""));
    expect(await sa.next("online")).toEqual({ list: [], type: "online" });
    sa.send(frame(A, "heart", "", 0, ""));
    expect(await sa.next("heart")).toEqual({ type: "heart", group: [], client: sa.client });
    sa.send(frame(A, "create_group", gid, 1, ""));
    const sb = await connectSeed(b!);
    expect(await sa.next("online")).toEqual({ list: [B], type: "online" });
    sb.send(frame(B, "join_group", gid, 1, ""));
    await sb.settle();
    const groupPost = { fromUid: A, toUid: gid, isGroup: 1, type: "text", id: 1001, content: "群消息" };
    sa.send(JSON.stringify(groupPost));
    expect(await sb.next("text")).toEqual(groupPost);
    const dm = { fromUid: B, toUid: A, isGroup: 0, type: "img", id: 1002, content: "https://x/1.png" };
    sb.send(JSON.stringify(dm));
    expect(await sa.next("img")).toEqual(dm);
    // A's client beats (its heart confirms what arrived before), then goes offline: B's next message waits for A's pull.
    await sleep(CONFIRM_AFTER_MS + 100);
    await sa.settle();
    sa.close();
    await sa.closed;
    const later = { fromUid: B, toUid: A, isGroup: 0, type: "text", id: 1003, content: "在吗" };
    sb.send(JSON.stringify(later));
    await sb.settle();
    const sa2 = await connectSeed(a!);
    sa2.send(frame(A, "pull", "", 0, ""));
    expect(await sa2.next("pull")).toEqual({ message: [JSON.stringify(later)], type: "pull" });
    sa2.send(frame(A, "pull", "", 0, ""));
    await sa2.settle();
    expect(sa2.seen("pull")).toHaveLength(1); // emptied, as the seed's Redis list
    sb.send(frame(B, "leave_group", gid, 1, ""));
    sb.send(frame(B, "text", gid, 1, 1004, { content: "still here?" }));
    expect(await sb.next("stranger")).toEqual({ id: 1004, type: "stranger" });
    sa2.send(frame(A, "kick_group", gid, 1, ""));
    sa2.send(frame(A, "dismiss_group", gid, 1, ""));
    await sa2.settle();
    for (const s of [sa, sa2, sb]) expect([...s.seen("error"), ...s.seen("__bad")]).toEqual([]);
  });
});
