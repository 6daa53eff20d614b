import type { GroupInfo } from "../../src/protocol";
import type { ImClient } from "./client";
import { connect, createUser, uniqueId } from "./fixtures";

/** Creates a group over the owner's socket with the given members (befriended first, so they are added, not invited). */
export async function makeGroup(
  owner: ImClient,
  members: string[],
  opts: { joinPolicy?: "open" | "invite"; gid?: string } = {}
): Promise<GroupInfo> {
  // A creator adds friends; anyone else named would only be invited.
  await befriendAll((owner as ImClient & { welcome?: { uid: string } }).welcome!.uid, members);
  return owner.ok<GroupInfo>({
    type: "group_create",
    gid: opts.gid ?? uniqueId("g"),
    name: "test group",
    members,
    joinPolicy: opts.joinPolicy ?? "invite"
  });
}

/** Makes `uid` friends with each of `others` in one D1 batch (fast for hundreds), then drops uid's cached friend list. */
export async function befriendAll(uid: string, others: readonly string[]): Promise<void> {
  if (others.length === 0) return;
  const { env } = await import("cloudflare:workers");
  const stmt = env.DB.prepare("INSERT INTO friendships (user_id, friend_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING");
  const now = Date.now();
  await env.DB.batch(others.flatMap((o) => [stmt.bind(uid, o, now), stmt.bind(o, uid, now)]));
  await env.USERS.getByName(uid).invalidateFriends();
}

/** `n` new users, each connected once. */
export async function connectedUsers(n: number): Promise<{ uid: string; c: Awaited<ReturnType<typeof connect>> }[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const uid = await createUser();
      return { uid, c: await connect(uid) };
    })
  );
}

/** A group message frame (without id). */
export function groupText(gid: string, text: string, cmid = crypto.randomUUID(), extra: Record<string, unknown> = {}) {
  return { type: "send", chat: "group", to: gid, cmid, body: { text }, ...extra };
}

/** `n` new users inserted straight into D1 (fixtures for large groups). */
export async function bulkUsers(n: number, prefix = "bulk"): Promise<string[]> {
  const { env } = await import("cloudflare:workers");
  const ids = Array.from({ length: n }, () => uniqueId(prefix));
  const stmt = env.DB.prepare("INSERT INTO users (id) VALUES (?)");
  await env.DB.batch(ids.map((id) => stmt.bind(id)));
  return ids;
}

/** The group object's fan-out cursor and head, read from its storage. */
export async function fanoutState(
  gid: string
): Promise<{ cursor: number; head: number; progress?: { from: number; to: number; after: string } }> {
  const { runInDurableObject } = await import("cloudflare:test");
  const { env } = await import("cloudflare:workers");
  return runInDurableObject(env.GROUPS.getByName(gid), (_o, state) => {
    const progress = state.storage.kv.get<{ from: number; to: number; after: string }>("fanout.progress");
    return {
      cursor: state.storage.kv.get<number>("fanout.cursor") ?? 0,
      head: state.storage.sql.exec<{ m: number }>("SELECT max(gseq) AS m FROM history").one().m,
      ...(progress ? { progress } : {})
    };
  });
}

/** Runs the group's alarm until its fan-out caught up (alarms also fire on their own). */
export async function drainFanout(gid: string): Promise<void> {
  const { runDurableObjectAlarm } = await import("cloudflare:test");
  const { env } = await import("cloudflare:workers");
  for (let i = 0; i < 100; i++) {
    const s = await fanoutState(gid);
    if (s.cursor >= s.head) return;
    await runDurableObjectAlarm(env.GROUPS.getByName(gid));
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`fan-out of ${gid} did not catch up: ${JSON.stringify(await fanoutState(gid))}`);
}
