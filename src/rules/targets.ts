/**
 * A delivery target as stored in `inbox.pending`: `u:<uid>` for a user
 * object. Group objects join in with `g:<gid>`.
 */
export type Target = `u:${string}`;

export function userTarget(uid: string): Target {
  return `u:${uid}`;
}

export function parseTarget(t: string): { kind: "user"; id: string } | undefined {
  if (t.startsWith("u:")) return { kind: "user", id: t.slice(2) };
  return undefined;
}
