import { unwrap } from "../../lib/result";
import {
  clientIdOf,
  type CompatCommand,
  type CompatFrame,
  type CompatServerFrame,
  decodeCompatFrame,
  ERRORS,
  errorBody,
  type GroupInfo,
  type GroupStreamEvent,
  type InboxEvent,
  isCompatCommand,
  ProtocolError,
  seedUid
} from "../../protocol";
import { COMPAT_DEVICE } from "../../store/memberships";
import { sendUnbatched } from "../connection";
import { onSend } from "../handlers/messages";
import { onlineFriends } from "../handlers/session";
import type { Conn, UserHub } from "../hub";
import { charge } from "../../rules/rate-limit";
import type { GroupCommand } from "../../rpc/calls";
import { groupStub } from "../../rpc/stubs";
import { cmidOf } from "./relay";
import { renderForCompat } from "./render";

type Raw = Record<string, unknown>;
type Handler = (hub: UserHub, conn: Conn, f: CompatFrame, raw: Raw) => Promise<void> | void;

/**
 * The seed's protocol has no acks, so a frame from the client (its `heart`,
 * typically) stands in for one: it confirms what was handed to its socket at
 * least this long before it arrived, time enough for those bytes to have
 * reached a client that is still sending.
 */
export const CONFIRM_AFTER_MS = 2_000;

/** Queued events read per step of a `pull`. */
const PULL_BATCH = 200;

/** Refusals a message gets as the seed's `{id, type: "stranger"}`. */
const STRANGER_CODES = new Set(["stranger", "not_member", "unknown_user", "unknown_group", "group_dismissed", "blocked"]);

export function sendCompat(ws: WebSocket, frame: CompatServerFrame): boolean {
  return sendUnbatched(ws, JSON.stringify(frame));
}

/** Sends `frame` to each open compat socket of the user; whether every one took it. */
function toEveryCompatSocket(hub: UserHub, frame: CompatServerFrame): boolean {
  let sent = true;
  for (const ws of hub.compatSockets.open()) sent = sendCompat(ws, frame) && sent;
  return sent;
}

/** How old the `heart` answer's group sessions may be (one group call serves every member's hearts meanwhile). */
const HEART_GROUP_MAX_AGE_MS = 30_000;

/**
 * The seed's `heart` answer's `group`: `Gateway::getClientSessionsByGroup(10000)`,
 * the clients of the group `COMPAT_HEART_GROUP`'s online members, each with
 * its session (`null`: none is kept), as PHP encodes it: `[]` when empty.
 * Only a member of that group is told who is in it.
 */
async function heartGroup(hub: UserHub): Promise<Record<string, null> | []> {
  const gid = hub.limits.compatHeartGroup;
  if (hub.groups.memberships.get(gid) === undefined) return [];
  const clients = await groupStub(hub.env, gid).onlineClients(HEART_GROUP_MAX_AGE_MS).catch(() => undefined);
  if (!clients?.ok || clients.value.length === 0) return [];
  return Object.fromEntries(clients.value.map((c) => [clientIdOf(c.uid, c.device), null]));
}

const COMMANDS: Record<CompatCommand, Handler> = {
  pull: onPull,
  // The seed answers `online`, `heart` and `pull` with sendToUid: every socket of the user gets them.
  online: async (hub) => {
    toEveryCompatSocket(hub, { list: (await onlineFriends(hub)).map(seedUid), type: "online" });
  },
  heart: async (hub, conn) => {
    toEveryCompatSocket(hub, { type: "heart", group: await heartGroup(hub), client: clientIdOf(hub.uid, conn.device) });
  },
  create_group: onCreateGroup,
  join_group: (hub, _conn, f) => groupCommand(hub, f, { op: "join" }, "already_member"),
  leave_group: (hub, _conn, f) => groupCommand(hub, f, { op: "leave" }, "not_member"),
  kick_group: (hub, _conn, f) => {
    // The seed's kick_group (no kickUid) detached the sender's own first connection,
    // which its next frame joined again: in effect nothing, as here.
    if (f.kickUid === undefined) return;
    return groupCommand(hub, f, { op: "kick", uid: f.kickUid });
  },
  dismiss_group: (hub, _conn, f) => groupCommand(hub, f, { op: "dismiss" })
};

/**
 * One message from a `/ws/compat` socket, answered as the seed answers: most
 * frames get no reply; a refused message gets `stranger`; what the seed
 * could not refuse (a forged `fromUid`, a malformed frame, a kick by a
 * plain member) gets `{type: "error", id, error}` with our error codes.
 */
export function compatDispatch(hub: UserHub, conn: Conn, message: string | ArrayBuffer): Promise<void> {
  hub.confirmCompat(conn.device, Date.now() - CONFIRM_AFTER_MS);
  // One socket's frames run one after another, as the seed's worker runs
  // them: `create_group` then a post to it must not race.
  const run = (inOrder.get(conn.ws) ?? Promise.resolve()).then(() => handle(hub, conn, message));
  inOrder.set(conn.ws, run);
  return run;
}

/** The tail of each socket's frame chain (memory only: a hibernated object has none running). */
const inOrder = new WeakMap<WebSocket, Promise<void>>();

async function handle(hub: UserHub, conn: Conn, message: string | ArrayBuffer): Promise<void> {
  const decoded = decodeCompatFrame(message, hub.limits.maxFrameBytes);
  if (!decoded.ok) {
    sendCompat(conn.ws, { type: "error", id: decoded.id, error: decoded.error });
    return;
  }
  const { frame: f, raw } = decoded;
  const id = raw.id ?? null;
  const command = isCompatCommand(f.type);
  try {
    if (f.fromUid !== hub.uid) throw new ProtocolError("forged_sender", "fromUid must be the user of your token");
    if (command) await COMMANDS[f.type as CompatCommand](hub, conn, f, raw);
    else await onMessage(hub, conn, f, raw);
  } catch (err) {
    if (!command && err instanceof ProtocolError && STRANGER_CODES.has(err.code)) {
      sendCompat(conn.ws, { id, type: "stranger" });
    } else if (err instanceof ProtocolError) {
      sendCompat(conn.ws, { type: "error", id, error: err.toBody() });
    } else {
      hub.log.error("frame_failed", { uid: conn.uid, device: conn.device, type: f.type, protocol: "compat", error: String(err) });
      sendCompat(conn.ws, { type: "error", id, error: errorBody("internal", "internal error") });
    }
  }
}

/**
 * A message: private when `isGroup` is 0, else to group `toUid`. Stored and
 * delivered like a v1 `send` with `kind` = the frame's `type` and `body` =
 * the frame as sent, so seed clients receive it unchanged. The frame's `id`
 * (per conversation) is its idempotency key. The seed sends no ack; a
 * message stored but not yet delivered is retried by the server, silently.
 */
async function onMessage(hub: UserHub, conn: Conn, f: CompatFrame, raw: Raw): Promise<void> {
  if (f.toUid === undefined) throw new ProtocolError("bad_request", "a message needs toUid", { toUid: "required" });
  if (f.toUid === hub.uid) return; // the seed: a message to oneself does nothing
  const chat: "dm" | "group" = f.isGroup ? "group" : "dm";
  const id = raw.id;
  const cmid = typeof id === "string" || typeof id === "number" ? await cmidOf(chat, f.toUid, f.type, id) : crypto.randomUUID();
  const frame = { type: "send" as const, id: 0, cmid, chat, to: f.toUid, kind: f.type, body: raw as never };
  try {
    await patiently(() => onSend(hub, conn, frame));
  } catch (err) {
    if (err instanceof ProtocolError && err.code === "unavailable") return; // stored; the server retries delivery
    throw err;
  }
}

/** Longest a compat frame waits for the send budget before its sender gets `rate_limited`. */
const MAX_RATE_WAIT_MS = 30_000;

/**
 * Runs `fn` again, after the wait it names, while it answers `rate_limited`
 * (up to {@link MAX_RATE_WAIT_MS} in all). The seed's clients never resend,
 * so a refusal they cannot read would lose the frame: over the send budget,
 * this socket's frames wait instead (they run one at a time).
 */
async function patiently<T>(fn: () => T | Promise<T>): Promise<T> {
  for (let waited = 0; ; ) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof ProtocolError) || err.code !== "rate_limited" || waited >= MAX_RATE_WAIT_MS) throw err;
      const ms = Math.min(err.retryAfterMs ?? 1_000, MAX_RATE_WAIT_MS - waited);
      waited += ms;
      await new Promise((r) => setTimeout(r, ms));
    }
  }
}

/**
 * `pull`: everything no compat socket of this user has confirmed (and no
 * other open one holds), as `{type: "pull", message: [json, ...]}` frames
 * that each fit the frame limit, oldest first; nothing when there is none.
 * Rows count as handed only once every frame went out on an open socket.
 * Then each group's messages no compat socket of this user was shown,
 * the newest {@link PULL_GROUP_MAX} at most per group.
 */
async function onPull(hub: UserHub, conn: Conn): Promise<void> {
  const seen = new Set<string>();
  let after = 0;
  for (;;) {
    const events = hub.compat.available(conn.device, hub.compatDevices(), PULL_BATCH).filter((e) => e.seq > after);
    if (events.length === 0) break;
    if (!sendPages(hub, conn, events, seen)) return;
    hub.compat.handed(events.map((e) => e.seq), conn.device, Date.now());
    after = events[events.length - 1]!.seq;
    if (events.length < PULL_BATCH) break;
  }
  await pullGroups(hub, conn, seen);
}

/** Most events of one group a `pull` hands over (the seed's server keeps none for offline members). */
const PULL_GROUP_MAX = 1_000;

/**
 * The group part of `pull`, from the compat cursor of each group (per user:
 * where a compat socket was last shown that group's events; the first time,
 * where the user's v1 devices got to). The cursor moves once a page went out.
 */
async function pullGroups(hub: UserHub, conn: Conn, seen: Set<string>): Promise<void> {
  const m = hub.groups.memberships;
  for (const { gid } of await hub.groups.known()) {
    let after = hub.compatSockets.groupStart(gid);
    for (let handed = 0; handed < PULL_GROUP_MAX; ) {
      const page = await hub.groups.page(gid, after, PULL_BATCH).catch(() => undefined);
      if (!page) break;
      if (page.head - after > PULL_GROUP_MAX && handed === 0) {
        after = page.head - PULL_GROUP_MAX;
        continue;
      }
      if (page.events.length === 0) break;
      if (!sendPages(hub, conn, page.events, seen)) return;
      after = page.events.at(-1)!.gseq;
      m.ack(COMPAT_DEVICE, { [gid]: after });
      handed += page.events.length;
      if (!page.more) break;
    }
  }
}

/**
 * Sends events as `pull` frames that each fit the frame limit, to every
 * compat socket of the user (the seed's `sendToUid`), skipping a message
 * whose seed identity (`seen`, kept over one `pull`) went out already; false
 * unless every frame went out on the asking socket.
 */
function sendPages(hub: UserHub, conn: Conn, events: readonly (InboxEvent | GroupStreamEvent)[], seen: Set<string>): boolean {
  const max = hub.limits.maxFrameBytes;
  let page: string[] = [];
  let bytes = 0;
  let sent = true;
  const flush = () => {
    if (page.length > 0) sent = toEveryCompatSocket(hub, { message: page, type: "pull" }) && sent;
    page = [];
    bytes = 0;
  };
  for (const e of events) {
    const text = renderForCompat(e, hub.uid);
    if (text === undefined) continue;
    const key = seedIdentity(text);
    if (key !== undefined && seen.has(key)) continue;
    if (key !== undefined) seen.add(key);
    const size = JSON.stringify(text).length + 1;
    if (page.length > 0 && bytes + size + 32 > max) flush();
    page.push(text);
    bytes += size;
  }
  flush();
  return sent && conn.ws.readyState === WebSocket.OPEN;
}

/** A seed message's identity: its conversation, type and `id` (undefined when it has no id). */
function seedIdentity(text: string): string | undefined {
  const f = JSON.parse(text) as Record<string, unknown>;
  if (typeof f.id !== "string" && typeof f.id !== "number") return undefined;
  return JSON.stringify([Number(f.isGroup ?? 0) === 1 || f.isGroup === true, String(f.fromUid), String(f.toUid), f.type, String(f.id)]);
}

/** `create_group`: `toUid` is the new group's id; the sender owns it; open to `join_group`. */
async function onCreateGroup(hub: UserHub, _conn: Conn, f: CompatFrame, raw: Raw): Promise<void> {
  const gid = requireGroupId(f);
  await patiently(() => charge(hub.sends, f.type));
  const name = typeof raw.name === "string" && raw.name.length > 0 ? raw.name.slice(0, 128) : gid;
  const created = await groupStub(hub.env, gid).create(hub.uid, { name, members: [], joinPolicy: "open" });
  if (created.ok) return hub.groups.attach(gid);
  // Creating the same group again (a retry) is not an error for its owner.
  if (created.error.code === "conflict") {
    const info = await groupStub(hub.env, gid).command(hub.uid, { op: "info" });
    if (info.ok && (info.value as GroupInfo).owner === hub.uid) return;
  }
  unwrap(created);
}

/** A membership command on group `toUid`; `quietCode` is the seed's silent no-op (join twice, leave twice). */
async function groupCommand(hub: UserHub, f: CompatFrame, cmd: GroupCommand, quietCode?: keyof typeof ERRORS): Promise<void> {
  await patiently(() => charge(hub.sends, f.type));
  const result = await groupStub(hub.env, requireGroupId(f)).command(hub.uid, cmd);
  if (!result.ok && result.error.code === quietCode) return;
  unwrap(result);
  if (cmd.op === "join") await hub.groups.attach(requireGroupId(f));
}

function requireGroupId(f: CompatFrame): string {
  if (f.toUid === undefined) throw new ProtocolError("bad_request", `${f.type} names the group in toUid`, { toUid: "required" });
  return f.toUid;
}
