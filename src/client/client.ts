import type { AttachmentKind, ClientRequestOf, ErrorBody, MessageBody, PushSubscription, ReplyOf } from "../protocol";
import { ClientConnection } from "./connection";
import { ImError } from "./errors";
import { randomId } from "./wire";

export type { ClientOptions } from "./connection";
export type { ClientEvents, ConnectionState } from "./events";

export interface UploadOptions {
  kind: AttachmentKind;
  contentType: string;
  /** A file name to show and to download as. */
  name?: string;
  chat?: "dm" | "group";
}

export interface SendOptions {
  chat?: "dm" | "group";
  kind?: string;
  /** Your idempotency key; reuse it to resend a message whose outcome you do not know. */
  cmid?: string;
  mentions?: { users?: string[]; all?: boolean };
  /** Quote this message (one of the same conversation). */
  replyTo?: string;
}

/**
 * A protocol v1 client: one method per request of the protocol, over a
 * {@link ClientConnection} (reconnects, resumes, delivers every durable event
 * exactly once and in order, and never stores a message twice).
 */
export class EdgeImClient extends ClientConnection {
  /**
   * Sends a message to a friend (or a group with `chat: "group"`). Resolves
   * with the server's ack once it is stored; queued while disconnected.
   */
  send(to: string, body: MessageBody, opts: SendOptions = {}): Promise<ReplyOf<"send">> {
    const cmid = opts.cmid ?? randomId();
    const frame: ClientRequestOf<"send"> = { type: "send", cmid, to, chat: opts.chat ?? "dm", kind: opts.kind ?? "text", body };
    if (opts.mentions) frame.mentions = opts.mentions;
    if (opts.replyTo) frame.replyTo = opts.replyTo;
    return this.enqueue(frame);
  }

  /** Marks the conversation with `peer` (a friend, or a group) read up to and including `mid`. */
  read(peer: string, mid: string, chat: "dm" | "group" = "dm"): Promise<ReplyOf<"read">> {
    return this.request({ type: "read", peer, mid, chat });
  }

  /** Replace the body of your own message. */
  edit(mid: string, body: MessageBody): Promise<ReplyOf<"edit">> {
    return this.request({ type: "edit", mid, body });
  }

  /** Take a message back for everyone (yours within the recall window; group owners and admins: any). */
  recall(mid: string): Promise<ReplyOf<"recall">> {
    return this.request({ type: "recall", mid });
  }

  /** Remove a message from your own devices. */
  deleteForMe(mid: string): Promise<ReplyOf<"delete">> {
    return this.request({ type: "delete", mid });
  }

  /** Add (or with `remove`, take away) your reaction. */
  react(mid: string, emoji: string, remove = false): Promise<ReplyOf<"react">> {
    return this.request({ type: "react", mid, emoji, remove });
  }

  /** Send a copy of a message to a friend or group; `cmid` makes a retry safe. */
  forward(mid: string, to: string, opts: { chat?: "dm" | "group"; cmid?: string } = {}): Promise<ReplyOf<"forward">> {
    return this.request({ type: "forward", mid, to, chat: opts.chat ?? "dm", cmid: opts.cmid ?? randomId() });
  }

  /** Every version of a message, oldest first. */
  edits(mid: string): Promise<ReplyOf<"edits">> {
    return this.request({ type: "edits", mid });
  }

  /** Tell the conversation you are typing (throttled by the server; send freely). */
  typing(to: string, active = true, chat: "dm" | "group" = "dm"): void {
    if (this.state === "open") this.request({ type: "typing", to, active, chat }).catch(() => undefined);
  }

  /** Your conversations, most recently active first. */
  conversations(q: { cursor?: string; limit?: number } = {}): Promise<ReplyOf<"conversations">> {
    return this.request({ type: "conversations", ...q });
  }

  /** Mute or unmute a conversation on all your devices. */
  muteConversation(peer: string, muted: boolean, chat: "dm" | "group" = "dm"): Promise<ReplyOf<"conversation_mute">> {
    return this.request({ type: "conversation_mute", peer, muted, chat });
  }

  /** Your messages containing `q`, newest first. */
  search(q: string, opts: { chat?: "dm" | "group"; peer?: string; before?: string; limit?: number } = {}): Promise<ReplyOf<"search">> {
    return this.request({ type: "search", q, ...opts });
  }

  /** A page of a group's history (members only). */
  history(gid: string, q: { before?: number; after?: number; limit?: number } = {}): Promise<ReplyOf<"group_history">> {
    return this.request({ type: "group_history", gid, ...q });
  }

  /** A page of your direct chat with `peer`, oldest first: `before` / `after` an inbox seq, or the newest page. */
  dmHistory(peer: string, q: { before?: number; after?: number; limit?: number } = {}): Promise<ReplyOf<"dm_history">> {
    return this.request({ type: "dm_history", peer, ...q });
  }

  /** Whether these friends are online, and when each was last seen (null: unknown or hidden). */
  lastSeen(uids: string[]): Promise<ReplyOf<"last_seen">> {
    return this.request({ type: "last_seen", uids });
  }

  /** Who may see when you were last online: your friends (the default) or nobody. */
  setLastSeenVisibility(lastSeen: "friends" | "nobody"): Promise<ReplyOf<"privacy">> {
    return this.request({ type: "privacy", lastSeen });
  }

  /** Who of a small group's members read `mid`, and who has not. */
  groupReads(gid: string, mid: string): Promise<ReplyOf<"group_reads">> {
    return this.request({ type: "group_reads", gid, mid });
  }

  /**
   * Uploads `data` as an attachment for the conversation with `to`: asks for
   * a slot, then PUTs the bytes to its signed URL. Send a message whose body
   * names the returned `attachment` (`{ attachment, ...yours }`) to share it.
   */
  async upload(to: string, data: Blob | ArrayBuffer | Uint8Array<ArrayBuffer>, opts: UploadOptions): Promise<ReplyOf<"upload">> {
    const size = data instanceof Blob ? data.size : data.byteLength;
    const frame: ClientRequestOf<"upload"> = { type: "upload", to, chat: opts.chat ?? "dm", kind: opts.kind, contentType: opts.contentType, size };
    if (opts.name !== undefined) frame.name = opts.name;
    const slot = await this.request(frame);
    const res = await fetch(this.httpUrl(slot.url), { method: "PUT", headers: slot.headers, body: data });
    if (!res.ok) {
      const body = (await res.json().catch(() => undefined)) as { error?: ErrorBody } | undefined;
      throw body?.error ? ImError.from(body.error) : new ImError("internal", `upload failed: HTTP ${res.status}`, res.status >= 500);
    }
    return slot;
  }

  /** A short-lived URL to download an attachment of a conversation you are in (GET it, or use it as an img src). */
  async mediaUrl(attachment: string): Promise<ReplyOf<"media_link"> & { href: string }> {
    const link = await this.request({ type: "media_link", attachment });
    return { ...link, href: this.httpUrl(link.url) };
  }

  /**
   * Registers this device for offline notifications: a browser's
   * `PushSubscription` (from `pushManager.subscribe` with the server's
   * `vapidPublicKey`, in the `welcome` event) or an app's FCM token.
   */
  pushSubscribe(subscription: PushSubscription): Promise<ReplyOf<"push_subscribe">> {
    return this.request({ type: "push_subscribe", subscription });
  }

  pushUnsubscribe(id: string): Promise<ReplyOf<"push_unsubscribe">> {
    return this.request({ type: "push_unsubscribe", subscription: id });
  }

  /** Which friends are online now. */
  async online(): Promise<string[]> {
    return (await this.request({ type: "online" })).friends;
  }
}
