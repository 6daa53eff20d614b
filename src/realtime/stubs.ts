import type { GroupObject } from "../objects/group";

/**
 * The group object's RPC surface as callers see it. Declared by hand because
 * deriving it through `DurableObjectStub` makes TypeScript recurse into the
 * JSON body type without end. Indexing the class keeps the signatures exact.
 */
export interface GroupRpc {
  create: GroupObject["create"];
  command: GroupObject["command"];
  post: GroupObject["post"];
}

export function groupStub(env: Env, gid: string): GroupRpc {
  return env.GROUPS.getByName(gid) as unknown as GroupRpc;
}
