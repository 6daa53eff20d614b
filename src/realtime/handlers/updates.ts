import { newEventId } from "../../lib/ids";
import { unwrap } from "../../lib/result";
import {
  type DeleteFrame,
  ERRORS,
  type EditFrame,
  type EditsFrame,
  type EditsResult,
  MAX_EDITS,
  type MessageEvent,
  ProtocolError,
  type ReactFrame,
  type RecallFrame,
  type UpdateEvent,
  type UpdateResult
} from "../../protocol";
import type { AmendRequest } from "../group-updates";
import type { Conn, UserHub } from "../hub";
import { assertNotRecalled, assertReactionRoom, peerOf } from "../message-state";
import { groupStub } from "../stubs";
import { userTarget } from "../targets";
import { assertBodySize, assertFriend } from "./messages";

/**
 * The message `mid` as this user sees it: one their inbox holds and they
 * have not deleted. Anything else is `unknown_message`, whether it does not
 * exist or is someone else's, so ids cannot be probed.
 */
export function visibleMessage(hub: UserHub, mid: string): MessageEvent {
  const e = hub.inbox.byEventId(mid);
  if (!e || e.type !== "message" || e.deleted) throw new ProtocolError("unknown_message", `no message ${mid}`);
  return e;
}

/** Edit your own message: a new version for every copy; the old one goes to its edit history. */
export async function onEdit(hub: UserHub, _conn: Conn, f: EditFrame): Promise<UpdateResult> {
  const msg = visibleMessage(hub, f.mid);
  assertNotRecalled(msg);
  if (msg.from !== hub.uid) throw new ProtocolError("not_author", "only its author may edit a message");
  assertBodySize(hub, f.body);
  if (msg.chat === "group") return amendInGroup(hub, msg, { op: "edit", mid: f.mid, body: f.body });
  const fields = await directUpdate(hub, msg, (now) => {
    assertNotRecalled(now);
    if ((now.edited ?? 0) >= MAX_EDITS) throw new ProtocolError("bad_request", `a message may be edited at most ${MAX_EDITS} times`);
    return { op: "edit", body: f.body, version: (now.edited ?? 0) + 1 };
  });
  return { mid: f.mid, changed: true, version: fields!.version };
}

/** Recall for everyone: your own message within the window (in groups, owners and admins: any). */
export async function onRecall(hub: UserHub, _conn: Conn, f: RecallFrame): Promise<UpdateResult> {
  const msg = visibleMessage(hub, f.mid);
  if (msg.recalled) return { mid: f.mid, changed: false };
  // In a group the group decides (its owner and admins may recall anyone's message).
  if (msg.chat === "group") return amendInGroup(hub, msg, { op: "recall", mid: f.mid });
  if (msg.from !== hub.uid) throw new ProtocolError("not_author", "only its author may recall a message");
  if (Date.now() - msg.ts > hub.limits.recallWindowMs) {
    throw new ProtocolError("recall_expired", `a message may be recalled within ${hub.limits.recallWindowMs / 1000} s of sending`);
  }
  const fields = await directUpdate(hub, msg, (now) => (now.recalled ? undefined : { op: "recall" }));
  return { mid: f.mid, changed: fields !== undefined };
}

/**
 * Delete for me: only this user's copy changes, on all their devices; nobody
 * else is told. A message of yours still on its way to the peer is delivered
 * first (its stored copy is what a retry would send).
 */
export async function onDelete(hub: UserHub, _conn: Conn, f: DeleteFrame): Promise<UpdateResult> {
  const found = hub.inbox.byEventId(f.mid);
  if (!found || found.type !== "message") throw new ProtocolError("unknown_message", `no message ${f.mid}`);
  if (found.deleted) return { mid: f.mid, changed: false };
  const pending = hub.inbox.pendingTarget(f.mid);
  if (pending !== null) {
    try {
      await hub.forward(found, pending);
    } catch (err) {
      // Refused for good (no longer friends): nothing will be sent, so deleting is safe.
      if (!(err instanceof ProtocolError) || ERRORS[err.code].retryable) throw err;
    }
  }
  const msg = hub.inbox.byEventId(f.mid); // again: the delivery awaited
  if (!msg || msg.type !== "message") throw new ProtocolError("unknown_message", `no message ${f.mid}`);
  if (msg.deleted) return { mid: f.mid, changed: false };
  const ts = Date.now();
  const stored = hub.inbox.appendOwn(
    { type: "update", eid: newEventId(ts), op: "delete", chat: msg.chat, from: hub.uid, to: peerOf(hub.uid, msg), mid: f.mid, ts },
    ts,
    null
  );
  hub.push(stored);
  hub.appended(ts, false);
  return { mid: f.mid, changed: true };
}

/** Add or remove your reaction; a repeat changes nothing and tells nobody. */
export async function onReact(hub: UserHub, _conn: Conn, f: ReactFrame): Promise<UpdateResult> {
  const msg = visibleMessage(hub, f.mid);
  assertNotRecalled(msg);
  const op = f.remove ? "unreact" : "react";
  if (msg.chat === "group") return amendInGroup(hub, msg, { op, mid: f.mid, emoji: f.emoji });
  const fields = await directUpdate(hub, msg, (now) => {
    assertNotRecalled(now);
    const has = now.reactions?.[f.emoji]?.includes(hub.uid) ?? false;
    if (has !== f.remove) return undefined;
    if (op === "react") assertReactionRoom(now, f.emoji);
    return { op, emoji: f.emoji };
  });
  return { mid: f.mid, changed: fields !== undefined };
}

/** Every version of a message you can see, oldest first. */
export function onEdits(hub: UserHub, _conn: Conn, f: EditsFrame): EditsResult {
  const msg = visibleMessage(hub, f.mid);
  assertNotRecalled(msg);
  return hub.inbox.conversations.edits(msg);
}

type DirectFields = Pick<UpdateEvent, "op"> & Partial<Pick<UpdateEvent, "body" | "version" | "emoji">>;

/**
 * A change to a direct message. Friends only (no exemption for the
 * seed's stranger kinds). After the friendship check `decide` sees the
 * message as it is now (another change may have landed meanwhile) and says
 * what to store, or undefined for no change. The update is stored in this
 * user's inbox (which rewrites this copy) pending delivery to the peer,
 * pushed to every device of this user, then delivered; if the peer cannot be
 * reached the alarm delivers it later, and the change already holds.
 */
async function directUpdate(
  hub: UserHub,
  msg: MessageEvent,
  decide: (now: MessageEvent) => DirectFields | undefined
): Promise<DirectFields | undefined> {
  const peer = peerOf(hub.uid, msg);
  await assertFriend(hub, peer);
  const fields = decide(visibleMessage(hub, msg.mid));
  if (!fields) return undefined;
  const ts = Date.now();
  const target = userTarget(peer);
  const stored = hub.inbox.appendOwn(
    { type: "update", eid: newEventId(ts), chat: "dm", from: hub.uid, to: peer, mid: msg.mid, ts, ...fields },
    ts,
    target
  );
  hub.push(stored);
  hub.appended(ts, true);
  hub.log.info("update", { uid: hub.uid, op: fields.op, chat: "dm", to: peer, mid: msg.mid, seq: stored.seq });
  try {
    await hub.forward(stored, target);
  } catch (err) {
    hub.log.warn("update_deferred", { uid: hub.uid, to: peer, mid: msg.mid, error: String(err) });
  }
  return fields;
}

/** Group messages change in the group's object, which is authoritative and fans the update out. */
async function amendInGroup(hub: UserHub, msg: MessageEvent, req: AmendRequest): Promise<UpdateResult> {
  const result = unwrap(await groupStub(hub.env, msg.to).amend(hub.uid, req));
  hub.log.info("update", { uid: hub.uid, op: req.op, chat: "group", to: msg.to, mid: msg.mid, changed: result.changed });
  return result;
}
