import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { GroupMessageEvent, MediaLink, MessageEvent, SendAck, UpdateResult, UploadSlot } from "../../src/protocol";
import type { ImClient } from "../helpers/client";
import { api, call, connect, createUser, expectJson, friends } from "../helpers/fixtures";
import { makeGroup } from "../helpers/groups";
import worker from "../../src/index";

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...Array.from({ length: 56 }, (_, i) => i)]);

/** Asks for a slot over the socket and uploads `bytes` to it; returns the attachment id. */
async function upload(c: ImClient, to: string, bytes = PNG, opts: { chat?: "dm" | "group"; contentType?: string; kind?: string } = {}): Promise<UploadSlot> {
  const slot = await c.ok<UploadSlot>({
    type: "upload", kind: opts.kind ?? "image", contentType: opts.contentType ?? "image/png", size: bytes.byteLength, chat: opts.chat ?? "dm", to
  });
  const put = await call(slot.url, { method: "PUT", headers: { "content-type": slot.headers["content-type"], "content-length": String(bytes.byteLength) }, body: bytes });
  expect(put.status).toBe(201);
  return slot;
}

const imageTo = (to: string, attachment: string, extra: Record<string, unknown> = {}) => ({
  type: "send", to, cmid: crypto.randomUUID(), kind: "image", body: { attachment, caption: "look" }, ...extra
});

async function download(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return call(url, { headers });
}

const stored = (id: string) => env.MEDIA.head(id);

describe("attachments (direct)", () => {
  it("uploads through a signed slot, sends a message naming it, and only the two participants can download it", async () => {
    const [alice, bob] = await friends();
    const carol = await createUser();
    const a = await connect(alice);
    const b = await connect(bob);
    const c = await connect(carol);
    const slot = await upload(a, bob);
    expect(slot).toMatchObject({ method: "PUT", size: PNG.byteLength, headers: { "content-type": "image/png" } });
    expect((await stored(slot.attachment))?.size).toBe(PNG.byteLength);

    // Before a message names it, only the uploader sees it.
    expect(await b.request({ type: "media_link", attachment: slot.attachment })).toMatchObject({ ok: false, error: { code: "unknown_attachment" } });
    await a.ok<MediaLink>({ type: "media_link", attachment: slot.attachment });

    const ack = await a.ok<SendAck>(imageTo(bob, slot.attachment));
    const msg = await b.next("message", (m) => m.mid === ack.mid);
    expect(msg.body).toEqual({ attachment: slot.attachment, caption: "look" });

    const link = await b.ok<MediaLink>({ type: "media_link", attachment: slot.attachment });
    expect(link).toMatchObject({ kind: "image", contentType: "image/png", size: PNG.byteLength, name: null });
    const res = await download(link.url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/png");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(PNG);
    const part = await download(link.url, { range: "bytes=0-7" });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes 0-7/${PNG.byteLength}`);
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(PNG.slice(0, 8));
    const tail = await download(link.url, { range: "bytes=-4" });
    expect([tail.status, tail.headers.get("content-range")]).toEqual([206, `bytes ${PNG.byteLength - 4}-${PNG.byteLength - 1}/${PNG.byteLength}`]);
    expect(new Uint8Array(await tail.arrayBuffer())).toEqual(PNG.slice(-4));
    const past = await download(link.url, { range: `bytes=${PNG.byteLength}-` });
    expect([past.status, past.headers.get("content-range")]).toEqual([416, `bytes */${PNG.byteLength}`]);
    const several = await download(link.url, { range: "bytes=0-1,4-5" });
    expect(several.status).toBe(200); // one range only: anything else gets the whole object
    expect((await several.arrayBuffer()).byteLength).toBe(PNG.byteLength);
    const etag = res.headers.get("etag")!;
    expect((await download(link.url, { "if-none-match": etag })).status).toBe(304);

    // A third user cannot get a link, and cannot forge or reuse one for uploading.
    expect(await c.request({ type: "media_link", attachment: slot.attachment })).toMatchObject({ ok: false, error: { code: "unknown_attachment", num: 406 } });
    const forged = link.url.replace(/sig=[^&]+/, "sig=AAAA");
    expect(await expectJson(await download(forged), 403)).toMatchObject({ error: { code: "forbidden" } });
    expect((await call(link.url, { method: "PUT", headers: { "content-type": "image/png" }, body: PNG })).status).toBe(403);
    const expired = link.url.replace(/exp=\d+/, `exp=${Math.floor(Date.now() / 1000) - 1}`);
    expect((await download(expired)).status).toBe(403);
  });

  it("refuses slots of the wrong type or size, uploads that do not match their slot, and messages naming an attachment not theirs", async () => {
    const [alice, bob] = await friends();
    const carol = await createUser();
    const a = await connect(alice);
    const b = await connect(bob);
    const c = await connect(carol);
    expect(await a.request({ type: "upload", kind: "image", contentType: "text/html", size: 10, to: bob })).toMatchObject({ ok: false, error: { code: "bad_request" } });
    expect(await a.request({ type: "upload", kind: "voice", contentType: "audio/ogg", size: 6 * 1024 * 1024, to: bob })).toMatchObject({
      ok: false, error: { code: "attachment_too_large", num: 310 }
    });
    expect(await a.request({ type: "upload", kind: "image", contentType: "image/png", size: 10, to: carol })).toMatchObject({ ok: false, error: { code: "stranger" } });
    expect(await a.request({ type: "upload", kind: "sticker", contentType: "image/png", size: 10, to: bob })).toMatchObject({ ok: false, error: { code: "invalid_frame" } });

    const slot = await a.ok<UploadSlot>({ type: "upload", kind: "image", contentType: "image/png", size: PNG.byteLength, to: bob });
    const put = (headers: Record<string, string>, body: Uint8Array) => call(slot.url, { method: "PUT", headers, body });
    expect((await put({ "content-type": "image/jpeg", "content-length": String(PNG.byteLength) }, PNG)).status).toBe(400);
    const bigger = new Uint8Array(PNG.byteLength + 1);
    expect(await expectJson(await put({ "content-type": "image/png", "content-length": String(bigger.byteLength) }, bigger), 413)).toMatchObject({ error: { code: "attachment_too_large" } });
    expect((await put({ "content-type": "image/png", "content-length": "4" }, PNG.slice(0, 4))).status).toBe(400);
    expect(await stored(slot.attachment)).toBeNull();
    expect((await put({ "content-type": "image/png", "content-length": String(PNG.byteLength) }, PNG)).status).toBe(201);
    expect(await expectJson(await put({ "content-type": "image/png", "content-length": String(PNG.byteLength) }, PNG), 409)).toMatchObject({ error: { code: "conflict" } });

    // Carol cannot send Alice's attachment; Alice cannot send one made for Bob to anyone else, nor a made-up id.
    await makeFriends(carol, bob);
    expect(await c.request(imageTo(bob, slot.attachment))).toMatchObject({ ok: false, error: { code: "unknown_attachment" } });
    const dave = await createUser();
    await makeFriends(alice, dave);
    expect(await a.request(imageTo(dave, slot.attachment))).toMatchObject({ ok: false, error: { code: "unknown_attachment" } });
    expect(await a.request(imageTo(bob, "a_nope"))).toMatchObject({ ok: false, error: { code: "unknown_attachment" } });
    // Nothing of those reached Bob or was stored in Alice's inbox.
    await a.ok<SendAck>({ type: "send", to: bob, cmid: crypto.randomUUID(), body: { text: "marker" } });
    await b.next("message", (m) => (m.body as { text?: string }).text === "marker");
    expect(b.seen((f) => f.type === "message" && (f as MessageEvent).kind === "image")).toEqual([]);
    const mine = await a.ok<{ messages: MessageEvent[] }>({ type: "dm_history", peer: bob });
    expect(mine.messages.map((m) => m.kind)).toEqual(["text"]);

    // The refused sends did not claim it. One message names it; a resend of that message may, no other message can.
    const first = imageTo(bob, slot.attachment);
    const sent = await a.ok<SendAck>(first);
    expect(await a.ok<SendAck>(first)).toMatchObject({ mid: sent.mid });
    expect(await a.request(imageTo(bob, slot.attachment))).toMatchObject({ ok: false, error: { code: "unknown_attachment" } });
    // An edit keeps the attachment.
    expect(await a.request({ type: "edit", mid: sent.mid, body: { attachment: "a_01J8Z3K5QW7Y1V2B3N4M5P6R7S" } })).toMatchObject({ ok: false, error: { code: "bad_request" } });
    expect(await a.ok<UpdateResult>({ type: "edit", mid: sent.mid, body: { attachment: slot.attachment, caption: "better" } })).toMatchObject({ changed: true });
  });

  it("deletes the object when its message is recalled: links stop working for everyone", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const b = await connect(bob);
    const slot = await upload(a, bob);
    const ack = await a.ok<SendAck>(imageTo(bob, slot.attachment));
    await b.next("message", (m) => m.mid === ack.mid);
    const link = await b.ok<MediaLink>({ type: "media_link", attachment: slot.attachment });
    expect(await a.ok<UpdateResult>({ type: "recall", mid: ack.mid })).toMatchObject({ changed: true });
    expect(await stored(slot.attachment)).toBeNull();
    expect(await expectJson(await download(link.url), 404)).toMatchObject({ error: { code: "unknown_attachment" } });
    expect(await b.request({ type: "media_link", attachment: slot.attachment })).toMatchObject({ ok: false, error: { code: "unknown_attachment" } });
  });
});

describe("attachments (uploads and downloads)", () => {
  it("takes one upload per slot even when two race: the bytes stored are the upload that won", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const slot = await a.ok<UploadSlot>({ type: "upload", kind: "image", contentType: "image/png", size: 4, to: bob });
    const put = (bytes: number[]) => call(slot.url, { method: "PUT", headers: { "content-type": "image/png", "content-length": "4" }, body: new Uint8Array(bytes) });
    const [x, y] = await Promise.all([put([1, 1, 1, 1]), put([2, 2, 2, 2])]);
    expect([x.status, y.status].sort()).toEqual([201, 409]);
    const won = x.status === 201 ? 1 : 2;
    const obj = await env.MEDIA.get(slot.attachment);
    expect(new Uint8Array(await obj!.arrayBuffer())).toEqual(new Uint8Array([won, won, won, won]));
  });

  it("serves an uploaded HTML file as a download in a sandbox, never as a page of this origin", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const html = new TextEncoder().encode("<script>alert(1)</script>") as Uint8Array<ArrayBuffer>;
    const slot = await upload(a, bob, html, { kind: "file", contentType: "text/html" });
    const res = await download((await a.ok<MediaLink>({ type: "media_link", attachment: slot.attachment })).url);
    expect(res.headers.get("content-disposition")).toBe("attachment");
    expect(res.headers.get("content-security-policy")).toContain("sandbox");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });
});

describe("attachments (groups)", () => {
  it("lets current members download, not outsiders nor kicked members; an admin's recall deletes it", async () => {
    const owner = await createUser();
    const [m1, m2] = [await createUser(), await createUser()];
    const outsider = await createUser();
    const o = await connect(owner);
    const c1 = await connect(m1);
    const c2 = await connect(m2);
    const out = await connect(outsider);
    const g = await makeGroup(o, [m1, m2]);
    expect(await out.request({ type: "upload", kind: "file", contentType: "application/pdf", size: 4, chat: "group", to: g.id })).toMatchObject({
      ok: false, error: { code: "not_member" }
    });
    const bytes = new TextEncoder().encode("%PDF");
    const slot = await c1.ok<UploadSlot>({ type: "upload", kind: "file", contentType: "application/pdf", size: 4, name: "notes.pdf", chat: "group", to: g.id });
    expect((await call(slot.url, { method: "PUT", headers: { "content-type": "application/pdf", "content-length": "4" }, body: bytes })).status).toBe(201);
    const ack = await c1.ok<SendAck>({ type: "send", chat: "group", to: g.id, cmid: crypto.randomUUID(), kind: "file", body: { attachment: slot.attachment } });
    await c2.next("message", (m) => (m as GroupMessageEvent).mid === ack.mid);

    const link = await c2.ok<MediaLink>({ type: "media_link", attachment: slot.attachment });
    expect(link).toMatchObject({ kind: "file", name: "notes.pdf" });
    const res = await download(link.url);
    expect(res.headers.get("content-disposition")).toBe("attachment; filename*=UTF-8''notes.pdf"); // never shown inline
    expect(await res.text()).toBe("%PDF");
    expect(await out.request({ type: "media_link", attachment: slot.attachment })).toMatchObject({ ok: false, error: { code: "unknown_attachment" } });

    await o.ok({ type: "group_kick", gid: g.id, uid: m2 });
    expect(await c2.request({ type: "media_link", attachment: slot.attachment })).toMatchObject({ ok: false, error: { code: "unknown_attachment" } });

    expect(await o.ok<UpdateResult>({ type: "recall", mid: ack.mid })).toMatchObject({ changed: true });
    expect(await stored(slot.attachment)).toBeNull();
    expect(await c1.request({ type: "media_link", attachment: slot.attachment })).toMatchObject({ ok: false, error: { code: "unknown_attachment" } });
  });
});

describe("attachments (backend API and expiry)", () => {
  it("makes slots and links for a user, deletes on request", async () => {
    const [alice, bob] = await friends();
    const slot = await expectJson<UploadSlot>(await api("POST", `/api/v1/users/${alice}/uploads`, { kind: "voice", contentType: "audio/ogg", size: 3, to: bob }), 201);
    expect((await call(slot.url, { method: "PUT", headers: { "content-type": "audio/ogg", "content-length": "3" }, body: new Uint8Array([1, 2, 3]) })).status).toBe(201);
    const link = await expectJson<MediaLink>(await api("GET", `/api/v1/users/${alice}/media/${slot.attachment}`), 200);
    expect(new Uint8Array(await (await download(link.url)).arrayBuffer())).toEqual(new Uint8Array([1, 2, 3]));
    // Bob's: not until a message names it.
    expect((await api("GET", `/api/v1/users/${bob}/media/${slot.attachment}`)).status).toBe(404);
    expect((await api("POST", `/api/v1/users/${alice}/uploads`, { kind: "voice", contentType: "audio/ogg", size: 3, to: "nobody_here" })).status).toBe(404);
    expect((await api("POST", `/api/v1/users/${alice}/uploads`, { kind: "voice", contentType: "audio/ogg", size: 3, chat: "group", to: "g_none" })).status).toBe(403);
    expect((await call(`/api/v1/media/${slot.attachment}`, { method: "DELETE" })).status).toBe(401);
    expect((await api("DELETE", `/api/v1/media/${slot.attachment}`)).status).toBe(204);
    expect(await stored(slot.attachment)).toBeNull();
    expect((await api("DELETE", `/api/v1/media/${slot.attachment}`)).status).toBe(404);
  });

  it("lets a user hold at most MEDIA_MAX_PENDING slots no message has named", async () => {
    const [alice, bob] = await friends();
    const slot = () => api("POST", `/api/v1/users/${alice}/uploads`, { kind: "image", contentType: "image/png", size: 4, to: bob });
    for (let i = 0; i < 20; i++) expect((await slot()).status).toBe(201);
    expect(await expectJson(await slot(), 429)).toMatchObject({ error: { code: "rate_limited", retryAfterMs: 900_000 } });
    // Another user is not affected.
    expect((await api("POST", `/api/v1/users/${bob}/uploads`, { kind: "image", contentType: "image/png", size: 4, to: alice })).status).toBe(201);
  });

  it("the cron deletes attachments never sent and those past their conversation's retention, and keeps the rest", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const b = await connect(bob);
    const unsent = await upload(a, bob);
    const old = await upload(a, bob);
    const fresh = await upload(a, bob);
    for (const s of [old, fresh]) await a.ok<SendAck>(imageTo(bob, s.attachment));
    await b.next("message");
    const backdate = (id: string, ms: number) => env.DB.prepare("UPDATE attachments SET created_at = created_at - ? WHERE id = ?").bind(ms, id).run();
    await backdate(unsent.attachment, 3600_000); // past twice MEDIA_UPLOAD_SECONDS
    await backdate(old.attachment, 8 * 24 * 3600_000); // past INBOX_TTL_SECONDS
    await backdate(fresh.attachment, 3600_000); // sent: kept for its retention
    await worker.scheduled(createScheduledController({ cron: "*/10 * * * *", scheduledTime: Date.now() }), env);
    expect(await stored(unsent.attachment)).toBeNull();
    expect(await stored(old.attachment)).toBeNull();
    expect(await stored(fresh.attachment)).not.toBeNull();
    expect(await b.request({ type: "media_link", attachment: old.attachment })).toMatchObject({ ok: false, error: { code: "unknown_attachment" } });
    await b.ok<MediaLink>({ type: "media_link", attachment: fresh.attachment });
  });
});

async function makeFriends(x: string, y: string): Promise<void> {
  const res = await api("POST", "/api/v1/friendships", { a: x, b: y });
  expect([200, 201]).toContain(res.status);
}
