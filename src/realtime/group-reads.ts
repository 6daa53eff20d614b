import { type GroupState, type Span } from "../store/group-state";
import {
  type EditsResult,
  type GroupPage,
  type MessageEvent,
  PAGE_BYTES,
  ProtocolError,
  type StoredMessage
} from "../protocol";
import { copyFor, mayView, streamFor } from "./group-stream";
import type { GroupSummary } from "../rpc/calls";
import type { GroupReads } from "../protocol";

/** A member's view of one group for their conversation list. */

/** Rows scanned per step of a page (most rows are visible to a member). */
const SCAN = 200;

/** The stretches `uid` belongs to, or `not_member` if none. */
function spansOf(state: GroupState, uid: string): Span[] {
  const spans = state.spans(uid);
  if (spans.length === 0) throw new ProtocolError("not_member", "you are not a member of this group");
  return spans;
}

/** The last gseq of `uid`'s stream: the group's head, or where their last membership ended. */
function endOf(state: GroupState, spans: readonly Span[]): number {
  return Math.min(state.head(), Math.max(...spans.map((s) => s.to)));
}

/**
 * One page of `uid`'s stream of this group after gseq `after`: the events
 * they may see, as their copies, oldest first, each with `prev`; at most
 * `limit` events and about {@link PAGE_BYTES} of them (at least one). `gap`
 * when retention dropped events of theirs they had not synced.
 */
export function pageFor(state: GroupState, gid: string, uid: string, after: number, limit: number): GroupPage {
  const spans = spansOf(state, uid);
  const end = endOf(state, spans);
  const trimmed = state.history.trimmed();
  const page: GroupPage = { gid, events: [], more: false, head: end };
  // What members' inboxes got before groups were stored once is read there.
  let prev = Math.max(after, state.history.floor());
  if (prev < trimmed && spans.some((s) => s.from < trimmed && s.to > prev)) {
    page.gap = { from: prev + 1, to: trimmed };
    prev = trimmed;
  }
  let scan = Math.max(prev, Math.min(...spans.map((s) => s.from)));
  let bytes = 0;
  while (scan < end) {
    const rows = state.history.range(scan, end, SCAN);
    if (rows.length === 0) break;
    for (const e of streamFor(uid, spans, rows, prev)) {
      const size = JSON.stringify(e).length;
      if (page.events.length >= limit || (page.events.length > 0 && bytes + size > PAGE_BYTES)) {
        page.more = true;
        return page;
      }
      page.events.push(e);
      bytes += size;
      prev = e.gseq;
    }
    scan = rows.at(-1)!.event.gseq ?? end;
  }
  return page;
}

/**
 * `uid`'s conversation entry: their newest visible message (skipping
 * `hidden`, the ones they deleted for themselves) and how many messages
 * from others came after `read`. Null when they never belonged.
 */
export function summaryFor(state: GroupState, uid: string, read: number, hidden: readonly string[]): GroupSummary | null {
  const spans = state.spans(uid);
  if (spans.length === 0) return null;
  const head = state.head();
  let last: GroupSummary["last"] = null;
  let unread = 0;
  for (const s of [...spans].sort((a, b) => b.to - a.to)) {
    const to = Math.min(s.to, head);
    if (!last) {
      const found = state.history.lastMessage(s.from, to, hidden);
      if (found) last = copyFor(uid, found.event) as StoredMessage;
    }
    unread += state.history.countUnread(uid, Math.max(read, s.from), to);
  }
  return { last, lastAt: last?.ts ?? 0, unread };
}

/**
 * The message `mid` as `uid` may see it (their copy, current version), with
 * its gseq: one of their time in the group. Anything else is
 * `unknown_message`, whether it exists or not.
 */
export function messageFor(state: GroupState, uid: string, mid: string): { gseq: number; message: StoredMessage } {
  const found = state.history.byEid(mid);
  const spans = state.spans(uid);
  if (!found || found.event.type !== "message" || !mayView(uid, spans, { event: found.event, extra: [], except: [], skip: {} })) {
    throw new ProtocolError("unknown_message", `no message ${mid} in this group`);
  }
  return { gseq: found.gseq, message: copyFor(uid, found.event) as StoredMessage };
}

/** `read`: how many messages from others `uid` has after the message at `gseq`. */
export function unreadAfter(state: GroupState, uid: string, gseq: number): number {
  const head = state.head();
  return state.spans(uid).reduce((n, s) => n + state.history.countUnread(uid, Math.max(gseq, s.from), Math.min(s.to, head)), 0);
}

/**
 * Who of the members read the message `mid` (their mark at or past it) and
 * who has not, among those who were members when it was posted, the sender
 * left out; for `actor` (a member who can see it, or null: the backend).
 * Only groups up to `max` members keep the marks.
 */
export function readsOf(state: GroupState, actor: string | null, mid: string, max: number): GroupReads {
  if (state.memberCount() > max) {
    throw new ProtocolError("bad_request", `read state is kept for groups of up to ${max} members`, { gid: "too large" });
  }
  let gseq: number;
  let from: string;
  if (actor === null) {
    const row = state.history.byEid(mid);
    if (!row || row.event.type !== "message") throw new ProtocolError("unknown_message", `no message ${mid} in this group`);
    gseq = row.gseq;
    from = row.event.from;
  } else {
    const found = messageFor(state, actor, mid);
    gseq = found.gseq;
    from = found.message.from;
  }
  const marks = state.reads.all();
  const read: string[] = [];
  const unread: string[] = [];
  for (const m of state.members()) {
    if (m.uid === from || m.joinedGseq >= gseq) continue;
    ((marks.get(m.uid) ?? 0) >= gseq ? read : unread).push(m.uid);
  }
  return { mid, read: read.sort(), unread: unread.sort() };
}

/** Every version of a message `uid` may see, oldest first. */
export function editsFor(state: GroupState, uid: string, mid: string): EditsResult {
  const { message } = messageFor(state, uid, mid);
  if (message.recalled) throw new ProtocolError("message_recalled", `message ${mid} was recalled`);
  return state.history.versions.of(message as Omit<MessageEvent, "seq">);
}

/** Messages of `uid`'s time in the group whose text matches `like`, newest first, below `before`. */
export function searchFor(state: GroupState, uid: string, like: string, before: string | undefined, limit: number): StoredMessage[] {
  const head = state.head();
  const out: StoredMessage[] = [];
  for (const s of state.spans(uid)) {
    for (const r of state.history.search(like, s.from, Math.min(s.to, head), before, limit)) out.push(copyFor(uid, r.event) as StoredMessage);
  }
  return out.sort((a, b) => (a.mid < b.mid ? 1 : a.mid > b.mid ? -1 : 0)).slice(0, limit);
}
