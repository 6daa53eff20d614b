import { mapLimit } from "../../lib/concurrency";
import { newEventId } from "../../lib/ids";
import { unwrap } from "../../lib/result";
import {
  type Conversation,
  type ConversationPage,
  type ConversationsFrame,
  type DmHistoryFrame,
  type MuteConversationFrame,
  ProtocolError,
  type ReplyOf,
  type SearchFrame,
  type SearchPage,
  type SearchQuery,
  type StoredMessage,
  type TypingEvent,
  type TypingFrame
} from "../../protocol";
import type { Conn, UserHub } from "../hub";
import { convKey } from "../../rules/message-state";
import { groupStub, userStub } from "../../rpc/stubs";
import { TYPING_TTL_MS } from "../../rules/typing";
import { assertMay } from "./shared";

/** Calls to group objects in flight at once for a conversation list or a search. */
const GROUP_READS = 8;

/** One page of this user's conversations, most recently active first. */
export function onConversations(hub: UserHub, _conn: Conn, f: ConversationsFrame): Promise<ReplyOf<"conversations">> {
  return listConversations(hub, f.cursor, f.limit);
}

/** Search the messages this user can see: their inbox's and their groups'. */
/** A page of the direct chat with `f.peer`, from this user's inbox (a peer never met gives an empty page). */
export function onDmHistory(hub: UserHub, _conn: Conn, f: DmHistoryFrame): ReplyOf<"dm_history"> {
  return hub.inbox.conversations.history(f.peer, f);
}

export function onSearch(hub: UserHub, _conn: Conn, f: SearchFrame): Promise<ReplyOf<"search">> {
  return searchMessages(hub, f);
}

/**
 * This user's conversations by latest activity, `limit` per page, after
 * `cursor`: direct chats from the inbox's index, groups from each group's
 * history (the newest message they can see and their unread count after
 * their read mark, less what they deleted for themselves). A group call per
 * group of theirs.
 */
export async function listConversations(hub: UserHub, cursor: string | undefined, limit: number): Promise<ConversationPage> {
  const after = cursor === undefined ? undefined : parseCursor(cursor);
  const muted = hub.inbox.conversations.mutedGroups();
  const m = hub.groups.memberships;
  const groups = await mapLimit(await hub.groups.known(), GROUP_READS, async (g) => {
    const r = await groupStub(hub.env, g.gid).summary(hub.uid, g.read, m.recentHidden(g.gid));
    if (!r.ok || !r.value?.last) return undefined;
    const entry: Conversation = {
      chat: "group",
      peer: g.gid,
      last: r.value.last,
      lastAt: r.value.lastAt,
      unread: Math.max(0, r.value.unread - m.hiddenUnreadAfter(g.gid, g.read)),
      muted: muted.has(g.gid)
    };
    return { conv: convKey("group", g.gid), entry };
  });
  const all = [...hub.inbox.conversations.direct(), ...groups.filter((g) => g !== undefined)].sort(
    (a, b) => b.entry.lastAt - a.entry.lastAt || (a.conv < b.conv ? -1 : a.conv > b.conv ? 1 : 0)
  );
  const start = after === undefined ? 0 : all.findIndex((c) => c.entry.lastAt < after.at || (c.entry.lastAt === after.at && c.conv > after.conv));
  const page = start < 0 ? [] : all.slice(start, start + limit);
  const out: ConversationPage = {
    conversations: page.map((c) => c.entry),
    totalUnread: all.reduce((n, c) => n + (c.entry.muted ? 0 : c.entry.unread), 0)
  };
  const last = page.at(-1);
  if (last && start + limit < all.length) out.next = `${last.entry.lastAt}~${last.conv}`;
  return out;
}

function parseCursor(cursor: string): { at: number; conv: string } {
  const m = /^(\d{1,16})~([dg]:[A-Za-z0-9_-]{1,64})$/.exec(cursor);
  if (!m) throw new ProtocolError("bad_request", "cursor is not one this server returned", { cursor: "invalid" });
  return { at: Number(m[1]), conv: m[2]! };
}

/**
 * Messages this user can see whose text contains `q` (case-insensitive
 * for ASCII; `%` and `_` match themselves), newest first by id: their
 * inbox's and, for groups, each group's history over their time in it.
 * `peer` narrows it to one conversation.
 */
export async function searchMessages(hub: UserHub, q: SearchQuery): Promise<SearchPage> {
  if (q.chat !== undefined && q.peer === undefined) throw new ProtocolError("bad_request", "chat needs peer", { peer: "required with chat" });
  const like = `%${q.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const chat = q.chat ?? "dm";
  const found: StoredMessage[] = [];
  if (q.peer === undefined || chat === "dm") {
    found.push(...hub.inbox.conversations.search(like, q.peer === undefined ? null : convKey("dm", q.peer), q.before, q.limit + 1));
  }
  if (q.peer === undefined || chat === "group") {
    const m = hub.groups.memberships;
    const gids = q.peer === undefined ? (await hub.groups.known()).map((g) => g.gid) : [q.peer];
    const pages = await mapLimit(gids, GROUP_READS, async (gid) => {
      const r = await groupStub(hub.env, gid).search(hub.uid, like, q.before, q.limit + 1);
      if (!r.ok) return [];
      const hidden = m.hiddenAmong(r.value.map((e) => e.mid));
      return r.value.filter((e) => !hidden.has(e.mid));
    });
    found.push(...pages.flat());
  }
  found.sort((a, b) => (a.mid < b.mid ? 1 : a.mid > b.mid ? -1 : 0));
  const page = found.slice(0, q.limit);
  const out: SearchPage = { messages: page };
  if (found.length > q.limit && page.length > 0) out.next = page.at(-1)!.mid;
  return out;
}

/**
 * Mute or unmute a conversation: stored as a `conversation` event so every
 * device of this user, including one offline now, learns it on sync.
 */
export async function onMuteConversation(
  hub: UserHub,
  _conn: Conn,
  f: MuteConversationFrame
): Promise<ReplyOf<"conversation_mute">> {
  // A conversation you have (even with someone no longer a friend, or a group you left) may be muted.
  const current = hub.inbox.conversations.muted(f.chat, f.peer);
  if (current === undefined) await assertConversation(hub, f.chat, f.peer);
  if ((current ?? false) === f.muted) return { muted: f.muted, changed: false };
  const ts = Date.now();
  await hub.record({ type: "conversation", eid: newEventId(ts), chat: f.chat, peer: f.peer, muted: f.muted, ts });
  return { muted: f.muted, changed: true };
}

/**
 * Typing: relayed, never stored, throttled per conversation (a throttled
 * signal is answered `relayed: false`, not an error: clients send one per
 * keystroke). A friend gets it on their devices; a group, its online members.
 */
export async function onTyping(hub: UserHub, _conn: Conn, f: TypingFrame): Promise<ReplyOf<"typing">> {
  if (f.chat === "dm") await assertConversation(hub, "dm", f.to);
  const now = Date.now();
  if (!hub.typing.allow(convKey(f.chat, f.to), f.active, now)) return { relayed: false };
  const frame: TypingEvent = { type: "typing", chat: f.chat, from: hub.uid, to: f.to, active: f.active, ts: now, expiresAt: now + TYPING_TTL_MS };
  if (f.chat === "group") return unwrap(await groupStub(hub.env, f.to).typing(hub.uid, frame));
  await userStub(hub.env, f.to).signal(frame);
  return { relayed: true };
}

/** A conversation this user may have: with a friend, or in a group they belong to. */
async function assertConversation(hub: UserHub, chat: "dm" | "group", peer: string): Promise<void> {
  if (chat === "group") {
    unwrap(await groupStub(hub.env, peer).command(hub.uid, { op: "info" }));
    return;
  }
  if (peer === hub.uid) throw new ProtocolError("bad_request", "that is you");
  await assertMay(hub, peer, { what: "friends_only" });
}
