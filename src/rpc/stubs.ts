import type { GroupRpc, PresenceRpc, RelayRpc, SchedulerRpc, UserRpc } from "./interfaces";

/*
 * The one way to reach another Durable Object: every call goes through
 * these getters, typed by the hand-written interfaces (interfaces.ts).
 * Deriving the type from `DurableObjectStub<Class>` instead makes
 * TypeScript recurse into the JSON body type without end, and would tie
 * every caller to the classes above it. Names are part of the contract:
 * an object's name is its storage, so they never change.
 */

/** A user's object, named by user id. */
export function userStub(env: Env, uid: string): UserRpc {
  return env.USERS.getByName(uid) as unknown as UserRpc;
}

/** A group's object, named by group id. */
export function groupStub(env: Env, gid: string): GroupRpc {
  return env.GROUPS.getByName(gid) as unknown as GroupRpc;
}

/** Relay `k` of group `gid`'s live push (stateless: the name only spreads the work). */
export function relayStub(env: Env, gid: string, k: number): RelayRpc {
  return env.RELAYS.getByName(`${gid}/${k}`) as unknown as RelayRpc;
}

/** Presence registry shard `shard` (0 ≤ shard < PRESENCE_SHARDS). */
export function presenceStub(env: Env, shard: number): PresenceRpc {
  return env.PRESENCE.getByName(`shard-${shard}`) as unknown as PresenceRpc;
}

/** Schedules are created by the backend at low rates: one object holds them all. */
export function schedulerStub(env: Env): SchedulerRpc {
  return env.SCHEDULER.getByName("schedules") as unknown as SchedulerRpc;
}
