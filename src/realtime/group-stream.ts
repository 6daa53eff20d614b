import type { HistoryRow } from "../store/group-history";
import { encodeServerFrame, type GroupStreamEvent, type HistoryEvent, type MessageEvent } from "../protocol";
import type { LiveRun } from "../rpc/delivery";
import type { Span } from "../store/group-state";
import { publicView } from "./group-commands";

/** Each event of `runs` as (gseq, prev), in order. */
export function chainOf(runs: readonly LiveRun[]): { gseq: number; prev: number }[] {
  return runs.flatMap((r) => r.gseqs.map((gseq, i) => ({ gseq, prev: i === 0 ? r.prev : r.gseqs[i - 1]! })));
}

/** Stream events (consecutive in one member's stream) as runs: one per stretch with the same devices to skip. */
function toRuns(events: readonly { e: GroupStreamEvent; skip?: readonly string[] }[]): LiveRun[] {
  const runs: LiveRun[] = [];
  let texts: string[] = [];
  let run: LiveRun | undefined;
  const close = () => {
    if (run) run.text = texts.join("\n");
  };
  for (const { e, skip = [] } of events) {
    if (!run || String(run.skipDevices ?? []) !== String(skip)) {
      close();
      run = { prev: e.prev, gseqs: [], text: "" };
      if (skip.length > 0) run.skipDevices = [...skip];
      runs.push(run);
      texts = [];
    }
    run.gseqs.push(e.gseq);
    texts.push(encodeServerFrame(e));
    if (e.type === "group") (run.groups ??= []).push(e.target === undefined ? { gseq: e.gseq, action: e.action } : { gseq: e.gseq, action: e.action, target: e.target });
  }
  close();
  return runs;
}

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
 * `recipients`, in the order given: who gets which runs. Recipients with
 * nothing to see get nothing; those with the same events and no copy of
 * their own (the sender's, a mentioned member's, one with devices to skip)
 * share one run, so a batch to a thousand members encodes each event once.
 */
export function planLive(
  recipients: readonly { uid: string; spans: readonly Span[] }[],
  rows: readonly HistoryRow[],
  from: number
): [string, LiveRun[]][] {
  if (rows.length === 0) return [];
  const generic = rows.map((r): HistoryEvent => {
    const pub = publicView(r.event);
    return pub.type === "message" && pub.mentions?.all ? { ...pub, mentioned: true } : pub;
  });
  const shared = new Map<string, LiveRun[]>();
  const out: [string, LiveRun[]][] = [];
  for (const { uid, spans } of recipients) {
    const idx: number[] = [];
    let special = false;
    rows.forEach((r, i) => {
      if (!mayView(uid, spans, r)) return;
      idx.push(i);
      special ||= isSpecial(uid, r);
    });
    if (idx.length === 0) continue;
    const copies = (copy: (i: number) => HistoryEvent, skip: (i: number) => string[] | undefined) => {
      let prev = from;
      return toRuns(idx.map((i) => {
        const e = toStream(copy(i), prev);
        prev = e.gseq;
        return { e, skip: skip(i) };
      }));
    };
    if (special) {
      out.push([uid, copies(
        (i) => copyFor(uid, rows[i]!.event),
        (i) => {
          const e = rows[i]!.event;
          return [...(rows[i]!.skip[uid] ?? []), ...(e.type === "message" && e.from === uid && e.device ? [e.device] : [])];
        }
      )]);
      continue;
    }
    const key = idx.join(",");
    let runs = shared.get(key);
    if (!runs) shared.set(key, (runs = copies((i) => generic[i]!, () => undefined)));
    out.push([uid, runs]);
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
