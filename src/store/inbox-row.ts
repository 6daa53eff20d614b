import type { InboxEvent, UnsequencedEvent } from "../protocol";

/** An `inbox` row as read back: its seq and the event's JSON. */
export interface Row extends Record<string, SqlStorageValue> {
  seq: number;
  event: string;
}

export function toEvent(row: Row): InboxEvent {
  return { ...(JSON.parse(row.event) as UnsequencedEvent), seq: row.seq } as InboxEvent;
}

/*
 * Where a row's event id lives. A message this user sent is keyed by its
 * client id (`eid` = {@link sentKey}), the one unique index its idempotency
 * needs; its message id carries its seq instead (lib/ids.ts
 * newDirectMessageId). Every other row's `eid` is its event's id. Rows sent
 * before this layout keep `eid` = mid and their `cmid` column (indexed).
 */

/** The `eid` of the row of a message this user sent with client id `cmid`. */
export const sentKey = (cmid: string): string => `c:${cmid}`;

/**
 * SQL condition: the row whose event id is `?1`, given `?2` = seqSlotOf(?1).
 * Two index lookups; the second only finds this user's own sent messages (a
 * receipt or update at that seq names the message in `$.mid` too).
 */
export const ROW_OF_ID = "(eid = ?1 OR (seq = ?2 AND eid GLOB 'c:*' AND json_extract(event, '$.mid') = ?1))";

/** SQL expression: the event id of a row. */
export const ID_OF_ROW = "iif(eid GLOB 'c:*', json_extract(event, '$.mid'), eid)";
