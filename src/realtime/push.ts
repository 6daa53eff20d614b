import { mapLimit } from "../lib/concurrency";
import { unwrap } from "../lib/result";
import type { PushUsersResult } from "../protocol";
import { groupStub, presenceStub, userStub } from "../rpc/stubs";
import type { Deliverable, PushContent } from "../rpc/delivery";

/** Calls to user objects in flight at once for a push to many users. */
const PUSH_CONCURRENCY = 16;

/** The inbox event of a push; the same `pushId` gives the same event id, so retries dedupe. */
export function noticeOf(pushId: string, c: PushContent, extra: { gid?: string } = {}): Deliverable {
  return {
    type: "notice",
    eid: `n_${pushId}`,
    kind: c.kind,
    body: c.body as never,
    ts: Date.now(),
    ...(c.from ? { from: c.from } : {}),
    ...extra
  };
}

/** sendToUid: stores the push in each user's inbox and pushes it to their devices. */
export async function pushToUsers(
  env: Env,
  pushId: string,
  uids: readonly string[],
  c: PushContent
): Promise<PushUsersResult> {
  const event = noticeOf(pushId, c);
  const unique = [...new Set(uids)];
  const results = await mapLimit(unique, PUSH_CONCURRENCY, async (uid) => {
    const [d] = await userStub(env, uid).deliver([event]);
    return { uid, seq: d!.seq, devices: d!.devices, duplicate: d!.duplicate };
  });
  return { pushId, users: results.length, devices: results.reduce((n, r) => n + r.devices, 0), results };
}

/** sendToGroup: stored in the group's history and fanned out durably to members. */
export async function pushToGroup(
  env: Env,
  gid: string,
  pushId: string,
  c: PushContent,
  except: { uids: readonly string[]; devices: readonly { uid: string; device: string }[] }
) {
  return unwrap(await groupStub(env, gid).notice(pushId, c, [...except.uids], [...except.devices]));
}

/** sendToAll: each registry shard stores and pushes to its own online users, in parallel. */
export async function pushToAll(env: Env, pushId: string, c: PushContent, shards: number) {
  const event = noticeOf(pushId, c);
  const counts = await Promise.all(
    Array.from({ length: shards }, (_, s) => presenceStub(env, s).broadcast(pushId, event))
  );
  return { pushId, users: counts.reduce((a, b) => a + b, 0), shards, delivery: "queued" as const };
}
