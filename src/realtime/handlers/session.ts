import {
  type AckFrame,
  type OnlineFrame,
  ProtocolError,
  type ReplyOf,
  SYNC_PAGE_DEFAULT,
  SYNC_PAGE_MAX,
  type SyncFrame
} from "../../protocol";
import type { Conn, UserHub } from "../hub";
import { onlineAmong } from "../presence";

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
    hub.inbox.ackDevice(conn.device, f.seq, Date.now());
    out.acked = hub.inbox.deviceCursor(conn.device) ?? 0;
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

/** This user's friends who are online now, sorted. */
export async function onlineFriends(hub: UserHub): Promise<string[]> {
  const { friends } = await hub.peers();
  return [...(await onlineAmong(hub.env, friends, hub.limits.presenceShards))].sort();
}

/** `ping` with an `id`: the server's time. */
export function onPing(): ReplyOf<"ping"> {
  return { ts: Date.now() };
}
