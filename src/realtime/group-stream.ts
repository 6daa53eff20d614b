import type { HistoryRow } from "../objects/group-history";
import type { GroupStreamEvent, HistoryEvent, MessageEvent } from "../protocol";
import { publicView } from "./group-commands";

/** A stretch of a group's history someone belongs to: events with from < gseq <= to. */
export interface Span {
  from: number;
  to: number;
}

/** A member's copy as handed to their user object: `skipDevices` (never pushed to those devices) is stripped there. */
export type LiveEvent = GroupStreamEvent & { skipDevices?: string[] };

/**
 * Whether someone who belongs to the group over `spans` may see `row`: an
 * event of their time in it, unless the row excepts them (a backend push
 * that names them in `exceptUids`), or one the row names them for
 * (`extra`). An update reaches only those who received the message it
 * changes, except a recall, which carries no content.
 */
export function mayView(uid: string, spans: readonly Span[], row: HistoryRow): boolean {
  if (row.except.includes(uid)) return false;
  if (row.extra.includes(uid)) return true;
  const g = row.event.gseq ?? 0;
  const e = row.event;
  return spans.some((s) => g > s.from && g <= s.to && (e.type !== "update" || e.op === "recall" || e.mgseq === undefined || e.mgseq > s.from));
}

/**
 * `uid`'s copy of an event: the sender keeps `cmid` and `device` of their
 * own message; a mentioned member's copy (everyone's, for `@all`) carries
 * `mentioned: true`.
 */
export function copyFor(uid: string, e: HistoryEvent): HistoryEvent {
  if (e.type !== "message") return e;
  if (e.from === uid) return e;
  const pub = publicView(e) as Omit<MessageEvent, "seq">;
  return e.mentions?.all || e.mentions?.users?.includes(uid) ? { ...pub, mentioned: true } : pub;
}

/** Whether `uid`'s copy of `row` differs from anyone else's (so it cannot be shared). */
function isSpecial(uid: string, row: HistoryRow): boolean {
  const e = row.event;
  if (row.skip[uid] !== undefined) return true;
  return e.type === "message" && (e.from === uid || e.mentions?.users?.includes(uid) === true);
}

/**
 * The events of `rows` (consecutive history after gseq `from`) that `uid`
 * may see, as their copies, each with `prev`: the gseq of the one before it
 * in this stream, `from` for the first (nothing between them was theirs).
 */
export function streamFor(uid: string, spans: readonly Span[], rows: readonly HistoryRow[], from: number): GroupStreamEvent[] {
  const out: GroupStreamEvent[] = [];
  let prev = from;
  for (const row of rows) {
    if (!mayView(uid, spans, row)) continue;
    out.push(toStream(copyFor(uid, row.event), prev));
    prev = row.event.gseq ?? prev;
  }
  return out;
}

function toStream(e: HistoryEvent, prev: number): GroupStreamEvent {
  return { ...e, gseq: e.gseq ?? 0, prev } as GroupStreamEvent;
}

/**
 * The live push of `rows` (history after gseq `from`) to each of
 * `recipients`, in the order given: who gets which copies. Recipients with
 * nothing to see get nothing; those with the same events and no copy of
 * their own (the sender's, a mentioned member's, one with devices to skip)
 * share one array, so a batch to a thousand members holds one copy of each
 * event, not a thousand.
 */
export function planLive(
  recipients: readonly { uid: string; spans: readonly Span[] }[],
  rows: readonly HistoryRow[],
  from: number
): [string, LiveEvent[]][] {
  if (rows.length === 0) return [];
  const generic = rows.map((r): HistoryEvent => {
    const pub = publicView(r.event);
    return pub.type === "message" && pub.mentions?.all ? { ...pub, mentioned: true } : pub;
  });
  const shared = new Map<string, LiveEvent[]>();
  const out: [string, LiveEvent[]][] = [];
  for (const { uid, spans } of recipients) {
    const idx: number[] = [];
    let special = false;
    rows.forEach((r, i) => {
      if (!mayView(uid, spans, r)) return;
      idx.push(i);
      special ||= isSpecial(uid, r);
    });
    if (idx.length === 0) continue;
    if (special) {
      let prev = from;
      out.push([uid, idx.map((i) => {
        const r = rows[i]!;
        const e: LiveEvent = toStream(copyFor(uid, r.event), prev);
        prev = r.event.gseq ?? prev;
        const skip = [...(r.skip[uid] ?? []), ...(r.event.type === "message" && r.event.from === uid && r.event.device ? [r.event.device] : [])];
        return skip.length ? { ...e, skipDevices: skip } : e;
      })]);
      continue;
    }
    const key = idx.join(",");
    let events = shared.get(key);
    if (!events) {
      let prev = from;
      events = idx.map((i) => {
        const e = toStream(generic[i]!, prev);
        prev = rows[i]!.event.gseq ?? prev;
        return e;
      });
      shared.set(key, events);
    }
    out.push([uid, events]);
  }
  return out;
}

/**
 * Who must get which rows durably, online or not, in their inbox: the users
 * a row names besides its members (`extra`: the one invited, the former
 * members a recall reaches). Everyone else reads the group's stream.
 */
export function planExtras(rows: readonly HistoryRow[]): Map<string, HistoryEvent[]> {
  const out = new Map<string, HistoryEvent[]>();
  for (const r of rows) {
    // Stored before groups were stored once: the one who left sees it in their stream now.
    if (r.event.type === "group" && (r.event.action === "left" || r.event.action === "kicked")) continue;
    for (const uid of r.extra) {
      if (r.except.includes(uid)) continue;
      const list = out.get(uid) ?? [];
      list.push(copyFor(uid, r.event));
      out.set(uid, list);
    }
  }
  return out;
}
