import {
  type AckFrame,
  type OnlineFrame,
  ProtocolError,
  SYNC_PAGE_DEFAULT,
  SYNC_PAGE_MAX,
  type SyncFrame,
  type SyncResult
} from "../../protocol";
import type { Conn, UserHub } from "../hub";
import { onlineAmong } from "../presence";

/** One page of missed events; `gap` says what retention dropped. */
export function onSync(hub: UserHub, _conn: Conn, f: SyncFrame): SyncResult {
  if ((f.limit ?? 0) > SYNC_PAGE_MAX) throw new ProtocolError("page_too_large", `a sync page holds at most ${SYNC_PAGE_MAX} events`);
  return hub.inbox.page(f.after, f.limit ?? SYNC_PAGE_DEFAULT);
}

/** Device delivery ack: remembers how far this device has received. */
export function onAck(hub: UserHub, conn: Conn, f: AckFrame): { acked: number } {
  hub.inbox.ackDevice(conn.device, f.seq, Date.now());
  return { acked: hub.inbox.deviceCursor(conn.device) ?? 0 };
}

/** The seed's `online` list, scoped to this user's friends. */
export async function onOnline(
  hub: UserHub,
  _conn: Conn,
  _f: OnlineFrame
): Promise<{ friends: string[] }> {
  return { friends: await onlineFriends(hub) };
}

/** This user's friends who are online now, sorted. */
export async function onlineFriends(hub: UserHub): Promise<string[]> {
  const { friends } = await hub.peers();
  return [...(await onlineAmong(hub.env, friends, hub.limits.presenceShards))].sort();
}

export function onPing(): { ts: number } {
  return { ts: Date.now() };
}
