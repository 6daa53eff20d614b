import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConnectionState, EdgeImClient, type GroupMessageEvent, type ImError, MemoryStore, type MessageEvent, type SocketFactory } from "../../src/client";
import { mintToken } from "../../src/lib/tokens";
import { adminClient, type DevServer, startDevServer } from "./dev-server";

type ImMessage = MessageEvent | GroupMessageEvent;

let server: DevServer;
let admin: ReturnType<typeof adminClient>;
const clients: EdgeImClient[] = [];

beforeAll(async () => {
  server = await startDevServer();
  admin = adminClient(server);
});
afterAll(async () => {
  for (const c of clients) c.close();
  await server?.stop();
});

/** Node 22's WebSocket, recording every socket and able to drop incoming frames (a lost ack). */
class TapSocket extends WebSocket {
  static all: TapSocket[] = [];
  /** Return false to drop an incoming message before the client sees it. */
  static filter: ((data: string, ws: TapSocket) => boolean) | undefined;
  constructor(url: string | URL, protocols?: string | string[]) {
    super(url, protocols);
    TapSocket.all.push(this);
  }
  override addEventListener(type: string, fn: EventListenerOrEventListenerObject, opts?: boolean | AddEventListenerOptions): void {
    if (type !== "message") return super.addEventListener(type, fn, opts);
    super.addEventListener("message", (e) => {
      if (TapSocket.filter && !TapSocket.filter(String((e as { data: unknown }).data), this)) return;
      if (typeof fn === "function") fn(e);
      else fn.handleEvent(e);
    }, opts);
  }
}

let n = 0;
async function user(): Promise<string> {
  const id = `sdk_${Date.now()}_${n++}`;
  expect((await admin("POST", "/api/v1/users", { id })).status).toBe(201);
  return id;
}
async function friends(): Promise<[string, string]> {
  const [a, b] = [await user(), await user()];
  expect((await admin("POST", "/api/v1/friendships", { a, b })).status).toBe(201);
  return [a, b];
}
async function token(uid: string): Promise<string> {
  return (await admin<{ token: string }>("POST", "/api/v1/tokens", { uid })).body.token;
}

function client(uid: string, extra: Partial<ConstructorParameters<typeof EdgeImClient>[0]> = {}) {
  const c = new EdgeImClient({ url: server.wsUrl, token: () => token(uid), WebSocket: TapSocket as unknown as SocketFactory, reconnect: { minMs: 50, maxMs: 200 }, ...extra });
  clients.push(c);
  const messages: ImMessage[] = [];
  const states: ConnectionState[] = [];
  c.on("message", (m) => messages.push(m));
  c.on("state", (s) => states.push(s.state));
  return { c, messages, states };
}

async function until(pred: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
const opened = (c: EdgeImClient) => until(() => c.state === "open", "open");

/** Two friends, each with a connected client. */
async function connectedFriends() {
  const [a, b] = await friends();
  const [A, B] = [client(a), client(b)];
  A.c.connect();
  B.c.connect();
  await Promise.all([opened(A.c), opened(B.c)]);
  return { a, b, A, B };
}

/** A group of `owner` and `members`, created by the backend. */
async function group(owner: string, members: string[]): Promise<string> {
  const gid = `g_sdk_${Date.now()}_${n++}`;
  expect((await admin("POST", "/api/v1/groups", { id: gid, owner, name: "sdk", members })).status).toBe(201);
  return gid;
}

const texts = (ms: ImMessage[]) => ms.map((m) => (m.body as { text: string }).text);

describe("client SDK and group streams against wrangler dev", () => {
  it("delivers a group's messages once and in gseq order across a dropped connection, resuming from the acked gseq", async () => {
    const [o, m] = [await user(), await user()];
    const gid = await group(o, [m]);
    const [O, M] = [client(o), client(m)];
    O.c.connect();
    M.c.connect();
    await Promise.all([opened(O.c), opened(M.c)]);
    for (let i = 0; i < 3; i++) await O.c.send(gid, { text: `g${i}` }, { chat: "group" });
    await until(() => M.messages.length === 3, "3 group messages");
    await new Promise((r) => setTimeout(r, 700)); // the ack of the group's position goes out
    const socket = TapSocket.all.findLast((s) => s.url.includes(`device=${M.c.device}`))!;
    socket.close(4000, "test drop");
    for (let i = 3; i < 7; i++) await O.c.send(gid, { text: `g${i}` }, { chat: "group" });
    await until(() => M.messages.length === 7, "7 group messages");
    await new Promise((r) => setTimeout(r, 300)); // a late duplicate would show up here
    expect(texts(M.messages)).toEqual(Array.from({ length: 7 }, (_, i) => `g${i}`));
    const gseqs = M.messages.map((x) => (x as GroupMessageEvent).gseq);
    expect(gseqs).toEqual([...gseqs].sort((x, y) => x - y));
    expect(M.messages.every((x) => !("seq" in x))).toBe(true);
    expect(M.c.lastGseq(gid)).toBe(gseqs.at(-1));
  });

  it("fills a hole in a group's stream with a sync by gid: a dropped push still arrives, once, in order", async () => {
    const [o, m] = [await user(), await user()];
    const gid = await group(o, [m]);
    const [O, M] = [client(o), client(m)];
    O.c.connect();
    M.c.connect();
    await Promise.all([opened(O.c), opened(M.c)]);
    await O.c.send(gid, { text: "first" }, { chat: "group" });
    await until(() => M.messages.length === 1, "the first");
    // Drop the next push on the way to M: the one after it shows the hole.
    let dropped = false;
    TapSocket.filter = (data, ws) => {
      if (dropped || !ws.url.includes(`device=${M.c.device}`) || !data.includes('"lost"')) return true;
      dropped = true;
      return false;
    };
    try {
      await O.c.send(gid, { text: "lost" }, { chat: "group" });
      await until(() => dropped, "the drop");
      await O.c.send(gid, { text: "after" }, { chat: "group" });
      await until(() => M.messages.length === 3, "all three");
    } finally {
      TapSocket.filter = undefined;
    }
    expect(texts(M.messages)).toEqual(["first", "lost", "after"]);
  });

  it("resumes a group from its store in a new instance: only what came after", async () => {
    const [o, m] = [await user(), await user()];
    const gid = await group(o, [m]);
    const O = client(o);
    const store = new MemoryStore();
    const M1 = client(m, { store });
    O.c.connect();
    M1.c.connect();
    await Promise.all([opened(O.c), opened(M1.c)]);
    for (let i = 0; i < 2; i++) await O.c.send(gid, { text: `before ${i}` }, { chat: "group" });
    await until(() => M1.messages.length === 2, "2 messages");
    M1.c.close();
    for (let i = 0; i < 2; i++) await O.c.send(gid, { text: `after ${i}` }, { chat: "group" });
    const M2 = client(m, { store });
    M2.c.connect();
    await until(() => M2.messages.length === 2, "the 2 later messages");
    await new Promise((r) => setTimeout(r, 300));
    expect(texts(M2.messages)).toEqual(["after 0", "after 1"]);
    expect(store.loadGroups()[gid]).toBe((M2.messages[1] as GroupMessageEvent).gseq);
  });
});

describe("client SDK against wrangler dev", () => {
  it("delivers every event once and in order, across a dropped connection", async () => {
    const { a, b, A, B } = await connectedFriends();
    for (let i = 0; i < 5; i++) await A.c.send(b, { text: `m${i}` });
    await until(() => B.messages.length === 5, "5 messages");

    const socket = TapSocket.all.findLast((s) => s.url.includes(`device=${B.c.device}`))!;
    socket.close(4000, "test drop");
    const sends = [5, 6, 7, 8, 9].map((i) => A.c.send(b, { text: `m${i}` }));
    await Promise.all(sends);
    await until(() => B.messages.length === 10, "10 messages");
    await new Promise((r) => setTimeout(r, 300)); // a late duplicate would show up here
    expect(B.messages.map((m) => (m.body as { text: string }).text)).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
    const seqs = B.messages.map((m) => (m as MessageEvent).seq);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
    expect(B.states).toContain("reconnecting");
    expect(B.states.at(-1)).toBe("open");
    expect(B.c.lastSeq).toBe(seqs.at(-1));
    // The same conversation as history pages, newest page first, each oldest first.
    const newest = await B.c.dmHistory(a, { limit: 6 });
    expect(newest.messages.map((m) => (m.body as { text: string }).text)).toEqual(["m4", "m5", "m6", "m7", "m8", "m9"]);
    const older = await B.c.dmHistory(a, { before: newest.messages[0]!.seq });
    expect(older).toMatchObject({ more: false });
    expect(older.messages.map((m) => (m.body as { text: string }).text)).toEqual(["m0", "m1", "m2", "m3"]);
  });

  it("resumes from its store in a new instance: only what came after", async () => {
    const [a, b] = await friends();
    const A = client(a);
    const store = new MemoryStore();
    const B1 = client(b, { store });
    A.c.connect();
    B1.c.connect();
    await Promise.all([opened(A.c), opened(B1.c)]);
    for (let i = 0; i < 3; i++) await A.c.send(b, { text: `first ${i}` });
    await until(() => B1.messages.length === 3, "3 messages");
    B1.c.close();
    for (let i = 0; i < 2; i++) await A.c.send(b, { text: `later ${i}` });
    const B2 = client(b, { store });
    B2.c.connect();
    await until(() => B2.messages.length === 2, "the 2 later messages");
    await new Promise((r) => setTimeout(r, 300));
    expect(B2.messages.map((m) => (m.body as { text: string }).text)).toEqual(["later 0", "later 1"]);
    expect((B2.messages[0] as MessageEvent).seq).toBe((B1.messages[2] as MessageEvent).seq + 1);
  });

  it("resends a message whose ack was lost with the same cmid: stored and delivered once", async () => {
    const { b, A, B } = await connectedFriends();
    let dropped = false;
    TapSocket.filter = (data, ws) => {
      if (dropped || !data.includes('"type":"reply"') || !ws.url.includes(`device=${A.c.device}`)) return true;
      dropped = true;
      setTimeout(() => ws.close(4000, "ack lost"), 0);
      return false;
    };
    try {
      const ack = await A.c.send(b, { text: "exactly once" });
      expect(dropped).toBe(true);
      await until(() => B.messages.length >= 1, "the message");
      await new Promise((r) => setTimeout(r, 300));
      expect(B.messages.map((m) => m.mid)).toEqual([ack.mid]);
    } finally {
      TapSocket.filter = undefined;
    }
  });

  it("queues sends while paused, within its bound, and sends each once on resume", async () => {
    const [a, b] = await friends();
    const A = client(a, { maxQueue: 2 });
    const B = client(b);
    B.c.connect();
    await opened(B.c);
    const first = A.c.send(b, { text: "q1" });
    const second = A.c.send(b, { text: "q2" });
    await expect(A.c.send(b, { text: "q3" })).rejects.toMatchObject({ code: "queue_full", retryable: true });
    expect(A.c.queued).toBe(2);
    A.c.connect();
    await Promise.all([first, second]);
    await until(() => B.messages.length === 2, "2 messages");
    A.c.pause();
    expect(A.c.state).toBe("idle");
    const third = A.c.send(b, { text: "q3" });
    await new Promise((r) => setTimeout(r, 200));
    expect(B.messages).toHaveLength(2);
    A.c.connect();
    await third;
    await until(() => B.messages.length === 3, "3 messages");
    expect(B.messages.map((m) => (m.body as { text: string }).text)).toEqual(["q1", "q2", "q3"]);
  });

  it("fills a hole in the live stream with sync: a dropped push still arrives, once and in order", async () => {
    const { b, A, B } = await connectedFriends();
    let dropped = false;
    TapSocket.filter = (data, ws) => {
      if (dropped || !data.includes('"hole"') || !ws.url.includes(`device=${B.c.device}`)) return true;
      dropped = true;
      return false;
    };
    try {
      for (const text of ["before", "hole", "after"]) await A.c.send(b, { text });
      await until(() => B.messages.length === 3, "3 messages");
      await new Promise((r) => setTimeout(r, 300));
      expect(dropped).toBe(true);
      expect(B.messages.map((m) => (m.body as { text: string }).text)).toEqual(["before", "hole", "after"]);
    } finally {
      TapSocket.filter = undefined;
    }
  });

  it("reconnects at once with a fresh token when its token expires while connected (4001), resending what waited", async () => {
    const [a, b] = await friends();
    const B = client(b);
    B.c.connect();
    let calls = 0;
    const A = client(a, {
      // The first token lives one to two seconds (exp has whole seconds; the API mints at least a
      // minute's worth): two, so it cannot already be dead when it connects.
      token: async () => (++calls === 1 ? (await mintToken(server.jwtSecret, a, 2)).token : token(a))
    });
    const closes: number[] = [];
    A.c.connect();
    await Promise.all([opened(A.c), opened(B.c)]);
    TapSocket.all.findLast((s) => s.url.includes(`device=${A.c.device}`))!.addEventListener("close", (e) => closes.push((e as CloseEvent).code));
    await new Promise((r) => setTimeout(r, 2_200));
    const ack = await A.c.send(b, { text: "after expiry" });
    expect(closes).toEqual([4001]);
    expect(calls).toBe(2);
    await until(() => B.messages.length === 1, "the message");
    await new Promise((r) => setTimeout(r, 300));
    expect(B.messages.map((m) => m.mid)).toEqual([ack.mid]);
  });

  it("rejects a message not acknowledged in time with a clear error", async () => {
    const [a, b] = await friends();
    const A = client(a, { sendTimeoutMs: 200 });
    const err = (await A.c.send(b, "never connected").catch((e: unknown) => e)) as ImError;
    expect(err).toMatchObject({ code: "timeout", retryable: true });
    expect(err.message).toContain("resend it with the same cmid");
    expect(A.c.queued).toBe(0);
  });

  it("asks for a token on every connect, so a bad or expired one is replaced", async () => {
    const uid = await user();
    let calls = 0;
    const C = client(uid, {
      token: async () => (++calls === 1 ? "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.bad-signature" : token(uid))
    });
    C.c.connect();
    await opened(C.c);
    expect(calls).toBe(2);
    TapSocket.all.findLast((s) => s.url.includes(`device=${C.c.device}`))!.close(4000, "drop");
    await until(() => calls === 3 && C.c.state === "open", "a third token and a new connection");
  });

  it("stops for good when the server ends the session (4501), rejecting what waits", async () => {
    const [uid, peer] = await friends();
    const C = client(uid);
    C.c.connect();
    await opened(C.c);
    // A send whose ack never comes back, still waiting when the session ends.
    TapSocket.filter = (data, ws) => !(data.includes('"type":"reply"') && ws.url.includes(`device=${C.c.device}`));
    const waiting = C.c.send(peer, "in flight").catch((e: unknown) => e);
    try {
      await new Promise((r) => setTimeout(r, 200));
      expect((await admin("POST", `/api/v1/users/${uid}/disconnect`, { reason: "logged out" })).status).toBe(200);
      await until(() => C.c.state === "closed", "closed");
    } finally {
      TapSocket.filter = undefined;
    }
    expect(await waiting).toMatchObject({ code: "closed" });
    await expect(C.c.send(peer, "after")).rejects.toMatchObject({ code: "closed" });
    expect(C.states.at(-1)).toBe("closed");
    await new Promise((r) => setTimeout(r, 400));
    expect(C.c.state).toBe("closed"); // no reconnect after a terminal close
  });
});

describe("SDK group moderation and read state against wrangler dev", () => {
  it("announcement mode refuses a member's post; group_reads tells the sender who read theirs", async () => {
    const { a, b, A, B } = await connectedFriends();
    const gid = await group(a, [b]);
    const sent = await A.c.send(gid, { text: "read me" }, { chat: "group" });
    await until(() => B.messages.some((m) => m.mid === sent.mid), "the group message");
    expect(await A.c.groupReads(gid, sent.mid)).toEqual({ mid: sent.mid, read: [], unread: [b] });
    await B.c.read(gid, sent.mid, "group");
    expect(await A.c.groupReads(gid, sent.mid)).toEqual({ mid: sent.mid, read: [b], unread: [] });

    expect((await A.c.request({ type: "group_settings", gid, announce: true })).settings).toMatchObject({ announce: true });
    const refused = (await B.c.send(gid, { text: "may I?" }, { chat: "group" }).catch((e: unknown) => e)) as ImError;
    expect(refused.code).toBe("forbidden");
    await A.c.send(gid, { text: "announcement" }, { chat: "group" });
    await until(() => B.messages.some((m) => (m.body as { text: string }).text === "announcement"), "the announcement");
    expect(B.messages.some((m) => (m.body as { text: string }).text === "may I?")).toBe(false);
  });
});

describe("SDK rich messaging against wrangler dev", () => {
  it("edits, reacts, replies, types, counts unread and searches over real sockets; a device that was offline catches up", async () => {
    const { a, b, A, B } = await connectedFriends();
    const updates: { op: string; mid: string }[] = [];
    const typing: boolean[] = [];
    B.c.on("update", (u) => updates.push(u));
    B.c.on("typing", (t) => typing.push(t.active));
    const delivered: string[] = [];
    A.c.on("receipt", (r) => {
      if (r.kind === "delivered" && r.from === b) delivered.push(r.mid);
    });

    const ack = await A.c.send(b, { text: "lunch at noon?" });
    await until(() => B.messages.some((m) => m.mid === ack.mid), "the message");
    // B's SDK acked its position: A learns that a device of B has the message.
    await until(() => delivered.includes(ack.mid), "the delivered receipt");
    expect(await A.c.edit(ack.mid, { text: "lunch at one?" })).toMatchObject({ changed: true, version: 1 });
    expect(await B.c.react(ack.mid, "👍")).toMatchObject({ changed: true });
    const reply = await B.c.send(a, { text: "sure" }, { replyTo: ack.mid });
    A.c.typing(b);
    await until(() => updates.length === 2 && typing.length === 1, "the edit, the reaction's echo and typing");
    expect(updates.map((u) => u.op)).toEqual(["edit", "react"]);
    await until(() => A.messages.some((m) => m.mid === reply.mid), "the reply");
    expect(A.messages.find((m) => m.mid === reply.mid)?.reply).toMatchObject({ mid: ack.mid, text: "lunch at one?" }); // quotes the current version

    expect((await A.c.conversations()).conversations[0]).toMatchObject({ peer: b, unread: 1 });
    expect(await A.c.read(b, reply.mid)).toMatchObject({ unread: 0 });
    expect((await B.c.search("one?")).messages.map((m) => m.mid)).toEqual([ack.mid]);
    expect((await A.c.edits(ack.mid)).versions).toHaveLength(2);
    // The typing signal expires by itself: the SDK emits `active: false` at its expiresAt.
    await until(() => typing.length === 2, "the typing signal to expire", 10_000);
    expect(typing).toEqual([true, false]);

    // A second client of B that was never connected: every event once, in order, current version.
    const later = client(b);
    const events: string[] = [];
    // Delivered receipts come and go with the clients' ack timers: the rest is fixed.
    later.c.on("event", (e) => {
      if (e.type !== "receipt" || e.kind !== "delivered") events.push(e.type === "update" ? `update:${e.op}` : e.type);
    });
    later.c.connect();
    await until(() => events.length === 5, "the offline device's catch-up");
    expect(events).toEqual(["message", "update:edit", "update:react", "message", "receipt"]);
    expect(later.messages[0]).toMatchObject({ mid: ack.mid, body: { text: "lunch at one?" }, edited: 1, reactions: { "👍": [b] } });
  });
});

describe("SDK attachments against wrangler dev (local R2)", () => {
  it("uploads an image through its signed slot, sends it, the peer downloads the same bytes; an outsider cannot; a recall deletes it", async () => {
    const { b, A, B } = await connectedFriends();
    const outsider = client(await user());
    outsider.c.connect();
    await opened(outsider.c);
    const bytes = new Uint8Array(64 * 1024).map((_, i) => (i * 7) & 0xff);
    const slot = await A.c.upload(b, new Blob([bytes], { type: "image/png" }), { kind: "image", contentType: "image/png", name: "dots.png" });
    const ack = await A.c.send(b, { attachment: slot.attachment, name: "dots.png" }, { kind: "image" });
    await until(() => B.messages.some((m) => m.mid === ack.mid), "the image message");

    const link = await B.c.mediaUrl(slot.attachment);
    expect(link).toMatchObject({ kind: "image", contentType: "image/png", size: bytes.byteLength, name: "dots.png" });
    const res = await fetch(link.href);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/png");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
    await expect(outsider.c.mediaUrl(slot.attachment)).rejects.toMatchObject({ code: "unknown_attachment" });
    // A made-up signature, and an upload to a download link, are refused.
    expect((await fetch(link.href.replace(/sig=[^&]+/, "sig=x"))).status).toBe(403);
    expect((await fetch(link.href, { method: "PUT", body: bytes, headers: { "content-type": "image/png" } })).status).toBe(403);

    await A.c.recall(ack.mid);
    expect((await fetch(link.href)).status).toBe(404);
    await expect(B.c.mediaUrl(slot.attachment)).rejects.toMatchObject({ code: "unknown_attachment" });
  });
});
