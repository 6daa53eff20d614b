import { limitsOf } from "../lib/config";
import { mapLimit } from "../lib/concurrency";
import { unwrap } from "../lib/result";
import type { Member } from "../protocol";
import type { OnlineClient } from "../rpc/calls";
import { groupStub, userStub } from "../rpc/stubs";
import { onlineAmong } from "./presence";

/**
 * Most members one answer asks for their devices (a call to each member's
 * object): a group with more online lists the devices of the first ones, in uid order.
 */
export const CLIENTS_MAX_MEMBERS = 500;

/** The devices connected now of `uids` (the first {@link CLIENTS_MAX_MEMBERS}), asked of each user's own object. */
export async function devicesOf(env: Env, uids: readonly string[]): Promise<OnlineClient[]> {
  const lists = await mapLimit(uids.slice(0, CLIENTS_MAX_MEMBERS), 16, async (uid) =>
    (await userStub(env, uid).status()).devices.map((d) => ({ uid, device: d.device }))
  );
  return lists.flat();
}

/** Members online now (the seed's `getUidListByGroup`): the group's member list against the sharded registry, in uid order. */
export async function onlineMembers(env: Env, gid: string): Promise<string[]> {
  const { members } = unwrap(await groupStub(env, gid).command(null, { op: "members" })) as { members: Member[] };
  const online = await onlineAmong(env, members.map((x) => x.uid), limitsOf(env).presenceShards);
  return [...online].sort();
}

/**
 * A group's answer to "which clients of the members are online", shared by
 * every caller for up to the age each accepts: one computation (a call per
 * online member, up to {@link CLIENTS_MAX_MEMBERS}) serves them all meanwhile.
 */
export class OnlineClientsCache {
  #entry: { at: number; list: Promise<OnlineClient[]> } | undefined;

  constructor(private readonly env: Env) {}

  get(maxAgeMs: number, onlineMembers: () => readonly string[]): Promise<OnlineClient[]> {
    const now = Date.now();
    if (!this.#entry || now - this.#entry.at > maxAgeMs) {
      const entry = { at: now, list: devicesOf(this.env, onlineMembers()) };
      this.#entry = entry;
      entry.list.catch(() => {
        if (this.#entry === entry) this.#entry = undefined;
      });
    }
    return this.#entry.list;
  }
}
