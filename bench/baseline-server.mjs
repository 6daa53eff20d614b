// The no-work reference: speaks the same frames and admin routes as the real
// server with in-memory maps only (no persistence, no auth, no checks).
// Usage: node bench/baseline-server.mjs [port]   (0 = any free port)
// Prints `READY <port>` on stdout once listening on 127.0.0.1.
import { createServer } from "node:http";
import { WebSocketServer } from "ws";

const MAX_FRAME_BYTES = 65536;
const PAGE_DEFAULT = 200;
const PAGE_MAX = 500;

/** uid → { sockets: Map<device, ws>, seq: last assigned seq, events: stored events in seq order } */
const users = new Map();
/** gid → member uids */
const groups = new Map();
let midCounter = 0;

function user(uid) {
  let u = users.get(uid);
  if (!u) users.set(uid, (u = { sockets: new Map(), seq: 0, events: [] }));
  return u;
}

const newMid = () => String(++midCounter).padStart(26, "0");

/** Events with seq > after, at most `limit`, as a sync/catchup page. */
function page(u, after, limit) {
  const ev = u.events;
  let lo = 0, hi = ev.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ev[mid].seq <= after) lo = mid + 1;
    else hi = mid;
  }
  const events = ev.slice(lo, lo + limit);
  return { events, more: lo + limit < ev.length, head: u.seq };
}

/**
 * Frames for one socket in the same tick leave as one newline-separated
 * message: the same framing the real server uses, so both pay the same.
 */
const outgoing = new Map();
function send(ws, text) {
  const q = outgoing.get(ws);
  if (q) return q.push(text);
  outgoing.set(ws, [text]);
  queueMicrotask(() => {
    const out = outgoing.get(ws);
    outgoing.delete(ws);
    if (ws.readyState === ws.OPEN) ws.send(out.join("\n"));
  });
}

/** Stores a copy for `uid` and pushes it to its sockets except `exceptWs`; returns its seq. */
function deliver(uid, base, exceptWs) {
  const u = user(uid);
  const event = { type: "message", seq: ++u.seq, ...base };
  u.events.push(event);
  let text;
  for (const ws of u.sockets.values()) if (ws !== exceptWs) send(ws, (text ??= JSON.stringify(event)));
  return event.seq;
}

function reply(ws, id, result) {
  send(ws, JSON.stringify({ type: "reply", id, ok: true, result }));
}

function replyError(ws, id, code, message) {
  send(ws, JSON.stringify({ type: "reply", id: id ?? null, ok: false, error: { code, num: 0, message, retryable: false } }));
}

function onSend(ws, uid, f) {
  const ts = Date.now();
  const base = { mid: newMid(), chat: f.chat ?? "dm", from: uid, to: f.to, kind: f.kind ?? "text", body: f.body, ts };
  const seq = ++user(uid).seq; // the sender's own copy is not stored: no work
  if (base.chat === "group") {
    const g = groups.get(f.to);
    if (!g) return replyError(ws, f.id, "unknown_group", `no group ${f.to}`);
    base.gseq = ++g.gseq;
    for (const m of g.members) if (m !== uid) deliver(m, base, ws);
    return reply(ws, f.id, { mid: base.mid, seq, ts, gseq: base.gseq });
  }
  deliver(f.to, base, ws);
  reply(ws, f.id, { mid: base.mid, seq, ts });
}

function onFrame(ws, uid, text) {
  if (text === '{"type":"ping"}') return ws.send('{"type":"pong"}');
  let f;
  try {
    f = JSON.parse(text);
  } catch {
    return replyError(ws, null, "invalid_json", "frame is not valid JSON");
  }
  switch (f.type) {
    case "send":
      return onSend(ws, uid, f);
    case "sync":
      return reply(ws, f.id, page(user(uid), f.after ?? 0, Math.min(f.limit ?? PAGE_DEFAULT, PAGE_MAX)));
    case "ack":
      if (f.id !== undefined) reply(ws, f.id, { acked: f.seq });
      return;
    case "ping":
      if (f.id !== undefined) reply(ws, f.id, { ts: Date.now() });
      return;
    default:
      return replyError(ws, f.id, "unknown_type", `unknown frame type ${f.type}`);
  }
}

/** `sub` of a JWT, unverified. */
function uidOf(token) {
  try {
    return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString()).sub;
  } catch {
    return undefined;
  }
}

const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false });

function onConnection(ws, uid, device, since) {
  const u = user(uid);
  u.sockets.get(device)?.close(4500, "replaced by a newer connection of this device");
  u.sockets.set(device, ws);
  ws.on("message", (data) => {
    const text = data.toString();
    if (!text.includes("\n")) return onFrame(ws, uid, text);
    for (const line of text.split("\n")) if (line) onFrame(ws, uid, line);
  });
  ws.on("error", () => {});
  ws.on("close", () => {
    if (u.sockets.get(device) === ws) u.sockets.delete(device);
  });
  send(ws, JSON.stringify({ type: "welcome", uid, device, head: u.seq, maxFrameBytes: MAX_FRAME_BYTES, ts: Date.now() }));
  if (since !== null) send(ws, JSON.stringify({ type: "catchup", ...page(u, Number(since), PAGE_DEFAULT) }));
}

function json(res, status, body) {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

const server = createServer((req, res) => {
  let raw = "";
  req.on("data", (d) => (raw += d));
  req.on("end", () => {
    const path = req.url.split("?")[0];
    if (req.method === "GET" && path === "/health") return json(res, 200, { ok: true, service: "baseline" });
    if (req.method !== "POST") return json(res, 404, { error: { code: "not_found" } });
    const b = raw ? JSON.parse(raw) : {};
    switch (path) {
      case "/api/v1/users":
        user(b.id);
        return json(res, 201, { id: b.id, name: b.name ?? null, createdAt: Date.now() });
      case "/api/v1/friendships":
        return json(res, 201, { a: b.a, b: b.b, created: true });
      case "/api/v1/gateway/sendToUid": {
        // The seed's relay: the frame, unchanged, to the target's sockets as a message from fromUid.
        const m = typeof b.message === "string" ? JSON.parse(b.message) : b.message;
        const mid = newMid();
        deliver(String(b.uid), { mid, chat: "dm", from: String(m.fromUid), to: String(b.uid), kind: m.type, body: m, ts: Date.now() });
        return json(res, 200, { result: null, deliveries: [{ to: b.uid, as: "message", mid }] });
      }
      case "/api/v1/groups": {
        const id = b.id ?? `g_${groups.size + 1}`;
        const members = [...new Set([b.owner, ...(b.members ?? [])])];
        groups.set(id, { members, gseq: 0 });
        return json(res, 201, { id, name: b.name, owner: b.owner, memberCount: members.length, head: 0 });
      }
      default:
        return json(res, 404, { error: { code: "not_found" } });
    }
  });
});

server.on("upgrade", (req, socket, head) => {
  const url = new URL(req.url, "http://x");
  const uid = url.pathname === "/ws" ? uidOf(url.searchParams.get("token") ?? "") : undefined;
  if (!uid) {
    socket.end("HTTP/1.1 401 Unauthorized\r\n\r\n");
    return;
  }
  const device = url.searchParams.get("device") ?? `d${Math.random().toString(36).slice(2)}`;
  const since = url.searchParams.get("since");
  wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, uid, device, since));
});

server.listen({ port: Number(process.argv[2] ?? 0), host: "127.0.0.1", backlog: 4096 }, () => {
  console.log(`READY ${server.address().port}`);
});
