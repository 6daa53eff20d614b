import { newEventId } from "../../lib/ids";
import { unwrap } from "../../lib/result";
import {
  type ConversationPage,
  type ConversationsFrame,
  type MuteConversationFrame,
  ProtocolError,
  type SearchFrame,
  type SearchPage,
  type TypingEvent,
  type TypingFrame
} from "../../protocol";
import type { Conn, UserHub } from "../hub";
import { convKey } from "../message-state";
import { groupStub } from "../stubs";
import { TYPING_TTL_MS } from "../typing";
import { assertFriend } from "./messages";

/** One page of this user's conversations, most recently active first. */
export function onConversations(hub: UserHub, _conn: Conn, f: ConversationsFrame): ConversationPage {
  return hub.inbox.conversations.list(f.cursor, f.limit);
}

/** Search the messages this user holds (their own inbox: only what they were sent or sent). */
export function onSearch(hub: UserHub, _conn: Conn, f: SearchFrame): SearchPage {
  return hub.inbox.conversations.search(f);
}

/**
 * Mute or unmute a conversation: stored as a `conversation` event so every
 * device of this user, including one offline now, learns it on sync.
 */
export async function onMuteConversation(
  hub: UserHub,
  _conn: Conn,
  f: MuteConversationFrame
): Promise<{ muted: boolean; changed: boolean }> {
  // A conversation you have (even with someone no longer a friend, or a group you left) may be muted.
  const current = hub.inbox.conversations.muted(f.chat, f.peer);
  if (current === undefined) await assertConversation(hub, f.chat, f.peer);
  if ((current ?? false) === f.muted) return { muted: f.muted, changed: false };
  const ts = Date.now();
  const stored = hub.inbox.appendOwn(
    { type: "conversation", eid: newEventId(ts), chat: f.chat, peer: f.peer, muted: f.muted, ts },
    ts,
    null
  );
  hub.push(stored);
  hub.appended(ts, false);
  return { muted: f.muted, changed: true };
}

/**
 * Typing: relayed, never stored, throttled per conversation (a throttled
 * signal is answered `relayed: false`, not an error: clients send one per
 * keystroke). A friend gets it on their devices; a group, its online members.
 */
export async function onTyping(hub: UserHub, _conn: Conn, f: TypingFrame): Promise<{ relayed: boolean }> {
  if (f.chat === "dm") await assertConversation(hub, "dm", f.to);
  const now = Date.now();
  if (!hub.typing.allow(convKey(f.chat, f.to), f.active, now)) return { relayed: false };
  const frame: TypingEvent = { type: "typing", chat: f.chat, from: hub.uid, to: f.to, active: f.active, ts: now, expiresAt: now + TYPING_TTL_MS };
  if (f.chat === "group") return unwrap(await groupStub(hub.env, f.to).typing(hub.uid, frame));
  await hub.env.USERS.getByName(f.to).signal(frame);
  return { relayed: true };
}

/** A conversation this user may have: with a friend, or in a group they belong to. */
async function assertConversation(hub: UserHub, chat: "dm" | "group", peer: string): Promise<void> {
  if (chat === "group") {
    unwrap(await groupStub(hub.env, peer).command(hub.uid, { op: "info" }));
    return;
  }
  if (peer === hub.uid) throw new ProtocolError("bad_request", "that is you");
  await assertFriend(hub, peer);
}
