import type { GroupObject } from "../objects/group";
import type { UserObject } from "../objects/user";
import type { SchedulerObject } from "../objects/scheduler";

/**
 * The group object's RPC surface as callers see it. Declared by hand because
 * deriving it through `DurableObjectStub` makes TypeScript recurse into the
 * JSON body type without end. Indexing the class keeps the signatures exact.
 */
export interface GroupRpc {
  create: GroupObject["create"];
  command: GroupObject["command"];
  post: GroupObject["post"];
  notice: GroupObject["notice"];
  stats: GroupObject["stats"];
  amend: GroupObject["amend"];
  typing: GroupObject["typing"];
  attach: GroupObject["attach"];
  page: GroupObject["page"];
  summary: GroupObject["summary"];
  message: GroupObject["message"];
  edits: GroupObject["edits"];
  search: GroupObject["search"];
}

export function groupStub(env: Env, gid: string): GroupRpc {
  return env.GROUPS.getByName(gid) as unknown as GroupRpc;
}

/** The scheduler's RPC surface (declared by hand for the same reason as {@link GroupRpc}). */
export interface SchedulerRpc {
  create: SchedulerObject["create"];
  list: SchedulerObject["list"];
  get: SchedulerObject["get"];
  cancel: SchedulerObject["cancel"];
}

/** Schedules are created by the backend at low rates: one object holds them all. */
export function schedulerStub(env: Env): SchedulerRpc {
  return env.SCHEDULER.getByName("schedules") as unknown as SchedulerRpc;
}

/** The parts of the user object's RPC surface that carry message bodies (declared by hand, see {@link GroupRpc}). */
export interface UserRpc {
  conversations: UserObject["conversations"];
  search: UserObject["search"];
}

export function userStub(env: Env, uid: string): UserRpc {
  return env.USERS.getByName(uid) as unknown as UserRpc;
}
