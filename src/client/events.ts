import type {
  ConversationEvent,
  FriendRequestEvent,
  FriendResponseEvent,
  GroupEvent,
  GroupMessageEvent,
  GroupNoticeEvent,
  GroupStreamEvent,
  GroupSystemEvent,
  GroupUpdateEvent,
  InboxEvent,
  MessageEvent,
  NoticeEvent,
  PresenceFrame,
  ReceiptEvent,
  TypingEvent,
  UpdateEvent,
  WelcomeFrame
} from "../protocol";
import type { ImError } from "./errors";

/*
 * What the client tells the app, in one module: the connection emits these
 * and the in-order delivery under it emits the durable ones, so neither
 * imports the other for the types.
 */

/** Where the connection stands (`state` events carry it). */
export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting" | "closed";

/** Every event `on` subscribes to, and the value each carries. */
export interface ClientEvents {
  state: { state: ConnectionState; delayMs?: number; reason?: string };
  welcome: WelcomeFrame;
  /**
   * Every durable event, exactly once (also emitted by its own type below):
   * inbox events in seq order; a group's events (no `seq`, stored once in
   * the group) in `gseq` order within that group.
   */
  event: InboxEvent | GroupStreamEvent;
  message: MessageEvent | GroupMessageEvent;
  receipt: ReceiptEvent;
  /** A message changed: edited, recalled, deleted (by you, elsewhere) or reacted to. */
  update: UpdateEvent | GroupUpdateEvent;
  /** You changed a conversation's settings (mute) on some device. */
  conversation: ConversationEvent;
  /** Someone is typing (or stopped); not durable. An unrenewed start is followed by `active: false` at its `expiresAt`. */
  typing: TypingEvent;
  group: GroupEvent | GroupSystemEvent;
  notice: NoticeEvent | GroupNoticeEvent;
  friend_request: FriendRequestEvent;
  friend_response: FriendResponseEvent;
  presence: PresenceFrame;
  /** Retention dropped seqs `from`..`to` (of group `gid`'s gseqs, with `gid`) before this client synced them. */
  gap: { from: number; to: number; gid?: string };
  /**
   * The server's inbox is behind the seq this client had stored (its storage
   * was reset, or the user was deleted and created again): the client now
   * follows the server's `head`.
   */
  reset: { lastSeq: number; head: number };
  error: ImError;
}
