/**
 * The two orders a client applies events in (no zod here: the SDK imports
 * it). Inbox events carry `seq`; a group's events are stored once, in the
 * group, and carry `gseq` and `prev` instead.
 */

/** Most groups one `ack` may name. */
export const ACK_GROUPS_MAX = 500;

/** The group an event belongs to, if it is a group's. */
export function groupOf(e: { type: string; chat?: string; to?: string; gid?: string }): string | undefined {
  if (e.type === "group" || e.type === "notice") return e.gid;
  return e.chat === "group" ? e.to : undefined;
}
