import type { GroupInfo, GroupPage, GroupStreamEvent } from "../../src/protocol";
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
  if (n === 0) return [];
  const { env } = await import("cloudflare:workers");
  const ids = Array.from({ length: n }, () => uniqueId(prefix));
  const stmt = env.DB.prepare("INSERT INTO users (id) VALUES (?)");
  await env.DB.batch(ids.map((id) => stmt.bind(id)));
  return ids;
}

/** The group's fan-out cursor and head, as its object counts them. */
export async function fanoutState(gid: string): Promise<{ cursor: number; head: number; online: number; retrying: number }> {
  const { env } = await import("cloudflare:workers");
  const r = await env.GROUPS.getByName(gid).stats();
  if (!r.ok) throw new Error(`stats of ${gid}: ${r.error.code}`);
  return { cursor: r.value.fanoutCursor, head: r.value.head, online: r.value.online, retrying: r.value.retryingMembers };
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

/** Every event of `uid`'s stream of group `gid` (what sync by gid pages), read over a fresh socket. */
export async function streamOf(uid: string, gid: string): Promise<GroupStreamEvent[]> {
  const c = await connect(uid, { device: `reader_${crypto.randomUUID().slice(0, 8)}` });
  const events: GroupStreamEvent[] = [];
  let after = 0;
  for (;;) {
    const page = await c.ok<GroupPage>({ type: "sync", gid, after });
    events.push(...page.events);
    if (!page.more) break;
    after = page.events.at(-1)!.gseq;
  }
  c.close();
  return events;
}

/** The group messages of a stream or an inbox. */
export function messagesOf<E extends { type: string }>(events: readonly E[]): Extract<E, { type: "message" }>[] {
  return events.filter((e): e is Extract<E, { type: "message" }> => e.type === "message");
}
