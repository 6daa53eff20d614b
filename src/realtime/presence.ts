import type { PresenceFrame } from "../protocol";
import type { LastSeen } from "../rpc/interfaces";
import { presenceStub, userStub } from "../rpc/stubs";

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
  return presenceStub(env, shardOf(uid, shards));
}

/** For each of `uids` (in order): online now and when last seen; one call per shard involved, in parallel. */
export async function lastSeenAmong(env: Env, uids: readonly string[], shards: number): Promise<LastSeen[]> {
  const answers = new Map((await perShard(uids, shards, (s, list) => presenceStub(env, s).seen(list))).map((r) => [r.uid, r]));
  return uids.map((uid) => answers.get(uid) ?? { uid, online: false, lastSeen: null });
}

/** Which of `uids` are online: one call per shard involved, all in parallel. */
export async function onlineAmong(
  env: Env,
  uids: Iterable<string>,
  shards: number
): Promise<Set<string>> {
  return new Set(await perShard(uids, shards, (s, list) => presenceStub(env, s).filterOnline(list)));
}

/** Asks each registry shard about its users among `uids`, all in parallel; the answers, flattened. */
async function perShard<T>(uids: Iterable<string>, shards: number, ask: (shard: number, uids: string[]) => Promise<T[]>): Promise<T[]> {
  const byShard = new Map<number, string[]>();
  for (const uid of uids) {
    const s = shardOf(uid, shards);
    const list = byShard.get(s);
    if (list) list.push(uid);
    else byShard.set(s, [uid]);
  }
  return (await Promise.all([...byShard].map(([s, list]) => ask(s, list)))).flat();
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
    [...online].map((f) => userStub(env, f).presence(frame))
  );
  for (const r of results) {
    if (r.status === "rejected") console.error("presence push failed", r.reason);
  }
}

/** Friends were last told this user is online. */
const KV_ONLINE = "presence.online";
/** This user may hold a registry lease. */
const KV_LEASED = "presence.leased";

/** What a user object lends its presence publisher. */
export interface PresenceHost {
  env: Env;
  kv: SyncKvStorage;
  shards: number;
  uid(): string;
  /** Open sockets, not counting one being closed. */
  sockets(closing?: WebSocket): number;
  /** Who is told of this user's presence: the users who list this one (their online lists hold it). */
  friends(): Promise<Iterable<string>>;
  ensureAlarm(at: number): Promise<void>;
  /** Reports the change to the deployment's webhook, if any. */
  webhook(online: boolean): void;
  /** Sent messages counted but not stored yet. */
  sent: SentCounter;
  /** Whether the user hides when they were last online. */
  hidesLastSeen(): boolean;
}

/** Messages this user sent that the registry has not counted yet. */
const KV_UNREPORTED = "stats.unreported";

/** Longest a count of sent messages waits in memory before it is stored. */
const SENT_FLUSH_MS = 1_000;

/**
 * Counts the messages a user sends; the next presence report carries them to
 * the registry's totals. Counts are gathered in memory and stored at most
 * once a second (a storage write per message cost 3 % of a send), so an
 * object that dies may lose up to a second of counts: the total is a
 * statistic, not a ledger.
 */
export class SentCounter {
  #pending = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly kv: SyncKvStorage) {}

  add(): void {
    this.#pending++;
    this.#timer ??= setTimeout(() => this.#flush(), SENT_FLUSH_MS);
  }

  /** Stores what was counted. */
  #flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending === 0) return;
    this.kv.put(KV_UNREPORTED, this.#stored() + this.#pending);
    this.#pending = 0;
  }

  /** Everything counted and not reported yet (stored first). */
  unreported(): number {
    this.#flush();
    return this.#stored();
  }

  /** `n` of the counts reached the registry. */
  reported(n: number): void {
    if (n > 0) this.kv.put(KV_UNREPORTED, this.#stored() - n);
  }

  #stored(): number {
    return this.kv.get<number>(KV_UNREPORTED) ?? 0;
  }
}

/**
 * Publishes one user's presence: the registry lease, then a push to online
 * friends when the state changed. Runs serially; each run reads the sockets as
 * they are then, so a quick disconnect/reconnect collapses into nothing. State
 * in kv makes a crash mid-way visible to the alarm, which calls `update` again.
 */
export class PresencePublisher {
  #chain: Promise<void> = Promise.resolve();

  constructor(private readonly host: PresenceHost) {}

  /** Schedules a run; resolves when it (and every earlier one) finished. */
  update(closing?: WebSocket): Promise<void> {
    this.#chain = this.#chain
      .then(() => this.#run(closing))
      .catch((err) =>
        console.error(JSON.stringify({ ts: new Date().toISOString(), level: "error", event: "presence_failed", uid: this.host.uid(), error: String(err).slice(0, 500) }))
      );
    return this.#chain;
  }

  /** Whether friends or the registry may still believe this user is online. */
  mayBeOnline(): boolean {
    return this.host.kv.get(KV_ONLINE) === true || this.host.kv.get(KV_LEASED) === true;
  }

  async #run(closing?: WebSocket): Promise<void> {
    const { env, kv, shards } = this.host;
    const uid = this.host.uid();
    const sockets = this.host.sockets(closing);
    const online = sockets > 0;
    const now = Date.now();
    const registry = registryFor(env, uid, shards);
    // Sent messages ride along; counted at most once more if this object dies right after the call.
    const sent = this.host.sent.unreported();
    if (online) {
      // Intent and alarm first: if the object dies mid-way, the alarm finds
      // the lease it may have taken and clears it.
      kv.put(KV_LEASED, true);
      await this.host.ensureAlarm(now + PRESENCE_REFRESH_MS);
      await registry.setOnline(uid, sockets, now + PRESENCE_LEASE_MS, sent);
    } else {
      // Last seen is when friends were last told this user is online: a later
      // run that finds them offline again (the alarm) leaves it.
      const lastSeen = this.host.hidesLastSeen() ? null : kv.get(KV_ONLINE) === true ? now : undefined;
      await registry.setOffline(uid, sent, lastSeen);
      kv.put(KV_LEASED, false);
    }
    this.host.sent.reported(sent);
    if ((kv.get(KV_ONLINE) === true) === online) return;
    await notifyFriends(env, await this.host.friends(), { type: "presence", uid, online, ts: now }, shards);
    // Recorded only once friends were told: if this run dies, the alarm repeats it.
    kv.put(KV_ONLINE, online);
    this.host.webhook(online);
  }
}
