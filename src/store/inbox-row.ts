import type { InboxEvent, UnsequencedEvent } from "../protocol";

/** An `inbox` row as read back: its seq and the event's JSON. */
export interface Row extends Record<string, SqlStorageValue> {
  seq: number;
  event: string;
}

export function toEvent(row: Row): InboxEvent {
  return { ...(JSON.parse(row.event) as UnsequencedEvent), seq: row.seq } as InboxEvent;
}
