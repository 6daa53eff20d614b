import type { PresenceFrame } from "../protocol";

/** How long a registry entry stays valid without a refresh from its user object. */
export const PRESENCE_LEASE_MS = 10 * 60_000;
/** User objects with open sockets refresh their entry this often (via their alarm). */
export const PRESENCE_REFRESH_MS = PRESENCE_LEASE_MS / 2;

/** FNV-1a: stable, cheap, and spreads short ids evenly over shards. */
export function shardOf(uid: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < uid.length; i++) {
    h ^= uid.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % shards;
}

/** The registry shard that owns `uid`'s online entry. */
export function registryFor(env: Env, uid: string, shards: number) {
  return env.PRESENCE.getByName(`shard-${shardOf(uid, shards)}`);
}

/** Which of `uids` are online: one call per shard involved, all in parallel. */
export async function onlineAmong(
  env: Env,
  uids: Iterable<string>,
  shards: number
): Promise<Set<string>> {
  const byShard = new Map<number, string[]>();
  for (const uid of uids) {
    const s = shardOf(uid, shards);
    const list = byShard.get(s);
    if (list) list.push(uid);
    else byShard.set(s, [uid]);
  }
  const answers = await Promise.all(
    [...byShard].map(([s, list]) =>
      env.PRESENCE.getByName(`shard-${s}`).filterOnline(list)
    )
  );
  return new Set(answers.flat());
}

/** Tells each online friend's devices that `frame.uid` came online or went offline. */
export async function notifyFriends(
  env: Env,
  friendIds: Iterable<string>,
  frame: PresenceFrame,
  shards: number
): Promise<void> {
  const online = await onlineAmong(env, friendIds, shards);
  const results = await Promise.allSettled(
    [...online].map((f) => env.USERS.getByName(f).presence(frame))
  );
  for (const r of results) {
    if (r.status === "rejected") console.error("presence push failed", r.reason);
  }
}
