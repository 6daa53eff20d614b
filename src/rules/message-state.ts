import {
  MAX_EDITS,
  MAX_REACTION_KINDS,
  type MessageEvent,
  type Origin,
  ProtocolError,
  QUOTE_CHARS,
  type Quote,
  type UpdateEvent
} from "../protocol";

type Message = Omit<MessageEvent, "seq"> & { seq?: number };
type Update = Omit<UpdateEvent, "seq"> & { seq?: number };

/**
 * How an update changes a stored copy of its message: the new copy, or
 * undefined when it changes nothing (a repeat, an older edit, a reaction
 * already there), so applying an update twice or late is harmless.
 */
export function applyUpdate<M extends Message>(msg: M, u: Update): M | undefined {
  if (msg.recalled && u.op !== "delete") return undefined;
  switch (u.op) {
    case "edit":
      // No body: the message was recalled since (its edits were scrubbed); the recall follows.
      if (u.version === undefined || u.body === undefined || u.version <= (msg.edited ?? 0) || msg.deleted) return undefined;
      return { ...msg, body: u.body, edited: u.version, editedAt: u.ts };
    case "recall": {
      const { body: _b, reactions: _r, edited: _e, editedAt: _a, reply: _q, ...rest } = msg;
      return { ...rest, body: null, recalled: { by: u.from, at: u.ts } } as M;
    }
    case "delete": {
      if (msg.deleted) return undefined;
      const { reactions: _r, reply: _q, ...rest } = msg;
      return { ...rest, body: null, deleted: true } as M;
    }
    case "react":
    case "unreact": {
      if (msg.deleted) return undefined;
      const emoji = u.emoji!;
      const users = reactorsOf(msg.reactions, emoji);
      const has = users.includes(u.from);
      if ((u.op === "react") === has) return undefined;
      const next = u.op === "react" ? [...users, u.from] : users.filter((x) => x !== u.from);
      // No prototype: an emoji named `__proto__` is a key like any other.
      const reactions: Record<string, string[]> = Object.assign(Object.create(null), msg.reactions);
      if (next.length > 0) reactions[emoji] = next;
      else delete reactions[emoji];
      const { reactions: _r, ...rest } = msg;
      return (Object.keys(reactions).length > 0 ? { ...rest, reactions } : rest) as M;
    }
  }
}

/** A change an actor asks for; the message is named by the caller. */
export type UpdateRequest =
  | { op: "edit"; body: unknown }
  | { op: "recall" }
  | { op: "react" | "unreact"; emoji: string };

/** The fields of the update event a request stores. */
export type UpdateFields = Pick<UpdateEvent, "op"> & Partial<Pick<UpdateEvent, "body" | "version" | "emoji">>;

/** Who asks, and when: `moderator` (a group's owner or admin) may recall anyone's message at any time. */
export interface UpdateActor {
  uid: string;
  moderator: boolean;
  now: number;
  recallWindowMs: number;
}

/**
 * The rules of edit, recall and reactions, one for direct and group chats:
 * the update to store, undefined when the request changes nothing (a
 * repeat, an edit to the body it has), or the refusal thrown. Only the
 * author edits, at most MAX_EDITS times; the author recalls within the window; nothing but a repeated recall
 * may be asked of a recalled message; at most MAX_REACTION_KINDS emoji.
 */
export function decideUpdate(msg: Message, req: UpdateRequest, who: UpdateActor): UpdateFields | undefined {
  if (req.op === "recall" && msg.recalled) return undefined;
  assertNotRecalled(msg);
  switch (req.op) {
    case "edit":
      if (msg.from !== who.uid) throw new ProtocolError("not_author", "only its author may edit a message");
      // The body it already has: nothing changes, so a retried edit is not a new version.
      if (JSON.stringify(msg.body) === JSON.stringify(req.body)) return undefined;
      if ((msg.edited ?? 0) >= MAX_EDITS) throw new ProtocolError("bad_request", `a message may be edited at most ${MAX_EDITS} times`);
      return { op: "edit", body: req.body as UpdateEvent["body"], version: (msg.edited ?? 0) + 1 };
    case "recall":
      if (!who.moderator) {
        if (msg.from !== who.uid) throw new ProtocolError("not_author", "only its author (in a group, also its owner and admins) may recall a message");
        if (who.now - msg.ts > who.recallWindowMs) {
          throw new ProtocolError("recall_expired", `a message may be recalled within ${who.recallWindowMs / 1000} s of sending`);
        }
      }
      return { op: "recall" };
    case "react":
    case "unreact": {
      const has = reactorsOf(msg.reactions, req.emoji).includes(who.uid);
      if ((req.op === "react") === has) return undefined;
      const kinds = Object.keys(msg.reactions ?? {});
      if (req.op === "react" && !kinds.includes(req.emoji) && kinds.length >= MAX_REACTION_KINDS) {
        throw new ProtocolError("too_many_reactions", `a message carries at most ${MAX_REACTION_KINDS} different reactions`);
      }
      return { op: req.op, emoji: req.emoji };
    }
  }
}

/** Nothing but delete-for-me may be done to a recalled message (`message_recalled`). */
export function assertNotRecalled(msg: Message): void {
  if (msg.recalled) throw new ProtocolError("message_recalled", `message ${msg.mid} was recalled`);
}

/**
 * Whether a stored message no longer carries the body it was sent with
 * (edited, recalled, deleted): a resend of its `cmid` is then matched on its
 * address and kind only.
 */
export function bodyChanged(msg: Message): boolean {
  return msg.edited !== undefined || msg.recalled !== undefined || msg.deleted === true;
}

/**
 * The searchable text of a body: a string body itself, or the `text` field of
 * an object body (the shape the SDK and demo send). Null when there is none.
 */
export function textOf(body: unknown): string | null {
  if (typeof body === "string") return body;
  if (body !== null && typeof body === "object" && !Array.isArray(body)) {
    const t = (body as Record<string, unknown>).text;
    if (typeof t === "string") return t;
  }
  return null;
}

/** What a reply carries of the message it quotes. */
export function quoteOf(msg: Message): Quote {
  return { mid: msg.mid, from: msg.from, kind: msg.kind, text: textOf(msg.body)?.slice(0, QUOTE_CHARS) ?? null };
}

/** The origin a forward of `msg` carries: its own origin if it was itself forwarded. */
export function originOf(msg: Message): Origin {
  return msg.forwarded ?? { mid: msg.mid, from: msg.from, chat: msg.chat, ts: msg.ts };
}

/** The other side of a conversation from `uid`'s view: the peer, or the group. */
export function peerOf(uid: string, e: { chat: "dm" | "group"; from: string; to: string }): string {
  if (e.chat === "group") return e.to;
  return e.from === uid ? e.to : e.from;
}

/** Key of a conversation in a user's inbox index. */
export function convKey(chat: "dm" | "group", peer: string): string {
  return `${chat === "group" ? "g" : "d"}:${peer}`;
}

/**
 * Who reacted with `emoji`: own keys only, so an emoji that names an Object
 * property (`toString`, `constructor`) is just an emoji nobody used yet.
 */
function reactorsOf(reactions: Record<string, string[]> | undefined, emoji: string): string[] {
  return reactions !== undefined && Object.hasOwn(reactions, emoji) ? reactions[emoji]! : [];
}
