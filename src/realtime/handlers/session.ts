import {
  type AckFrame,
  type LastSeenFrame,
  type OnlineFrame,
  type PrivacyFrame,
  ProtocolError,
  type ReplyOf,
  SYNC_PAGE_DEFAULT,
  SYNC_PAGE_MAX,
  type SyncFrame
} from "../../protocol";
import type { Conn, UserHub } from "../hub";
import { lastSeenAmong, onlineAmong, shardOf } from "../presence";
import { newEventId } from "../../lib/ids";
import { userTarget } from "../../rules/targets";
import { presenceStub } from "../../rpc/stubs";

/** One page of missed inbox events, or with `gid` of that group's stream; `gap` says what retention dropped. */
export function onSync(hub: UserHub, _conn: Conn, f: SyncFrame): ReplyOf<"sync"> | Promise<ReplyOf<"sync">> {
  if ((f.limit ?? 0) > SYNC_PAGE_MAX) throw new ProtocolError("page_too_large", `a sync page holds at most ${SYNC_PAGE_MAX} events`);
  if (f.gid !== undefined) return hub.groups.page(f.gid, f.after, f.limit ?? SYNC_PAGE_DEFAULT);
  return hub.inbox.page(f.after, f.limit ?? SYNC_PAGE_DEFAULT);
}

/** Device delivery ack: remembers how far this device has received, in the inbox and in each group named. */
export function onAck(hub: UserHub, conn: Conn, f: AckFrame): ReplyOf<"ack"> {
  const out: ReplyOf<"ack"> = {};
  if (f.seq !== undefined) {
    const now = Date.now();
    hub.inbox.ackDevice(conn.device, f.seq, now);
    out.acked = hub.inbox.deviceCursor(conn.device) ?? 0;
    // Delivered receipts, stored with the ack (one commit) and sent in the
    // background; every device gets them, the acking one too, so no device's
    // inbox stream has a hole where they sit.
    for (const { peer, mid } of hub.limits.deliveredReceipts ? hub.delivered.due(out.acked) : []) {
      void hub.record(
        { type: "receipt", kind: "delivered", eid: newEventId(now), chat: "dm", from: hub.uid, to: peer, mid, ts: now },
        { to: userTarget(peer) }
      );
    }
  }
  if (f.groups !== undefined) {
    hub.groups.memberships.ack(conn.device, f.groups);
    out.groups = Object.fromEntries(Object.keys(f.groups).map((gid) => [gid, hub.groups.memberships.cursors.get(conn.device, gid) ?? 0]));
  }
  return out;
}

/** The seed's `online` list, scoped to this user's friends. */
export async function onOnline(
  hub: UserHub,
  _conn: Conn,
  _f: OnlineFrame
): Promise<ReplyOf<"online">> {
  return { friends: await onlineFriends(hub) };
}

/** When the friends among `f.uids` were last online; anyone else is left out (presence is for friends). */
export async function onLastSeen(hub: UserHub, _conn: Conn, f: LastSeenFrame): Promise<ReplyOf<"last_seen">> {
  const { listed } = await hub.peers();
  const asked = [...new Set(f.uids)].filter((u) => listed.has(u));
  return { users: asked.length === 0 ? [] : await lastSeenAmong(hub.env, asked, hub.limits.presenceShards) };
}

/** Hides (or shows again) when this user was last online; hiding forgets the time the registry kept. */
export async function onPrivacy(hub: UserHub, _conn: Conn, f: PrivacyFrame): Promise<ReplyOf<"privacy">> {
  const changed = hub.privacy.setLastSeen(f.lastSeen);
  if (changed && f.lastSeen === "nobody") await presenceStub(hub.env, shardOf(hub.uid, hub.limits.presenceShards)).hideLastSeen(hub.uid);
  return { lastSeen: f.lastSeen, changed };
}

/** The users this user lists (its friends) who are online now, sorted. */
export async function onlineFriends(hub: UserHub): Promise<string[]> {
  const { listed } = await hub.peers();
  return [...(await onlineAmong(hub.env, listed, hub.limits.presenceShards))].sort();
}

/** `ping` with an `id`: the server's time. */
export function onPing(): ReplyOf<"ping"> {
  return { ts: Date.now() };
}
