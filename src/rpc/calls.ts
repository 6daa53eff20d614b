import type { GroupHistoryPage, GroupInfo, HistoryEvent, JoinPolicy, Member, Mentions, Origin, Quote, StoredMessage } from "../protocol";
import type { UpdateRequest } from "../rules/message-state";

/* Arguments and results of the group object's RPC methods that no frame or body schema defines. */

/** Who acts: a user, or null for the app's backend over HTTP (owner authority). */
export type Actor = string | null;

/** Every group operation except create and post, as the GroupObject receives it. */
export type GroupCommand =
  | { op: "info" }
  | { op: "members" }
  | { op: "history"; before?: number; after?: number; limit: number }
  | { op: "join" }
  | { op: "add"; uid: string; role?: "admin" | "member" }
  | { op: "invite"; uid: string }
  | { op: "leave" }
  | { op: "kick"; uid: string }
  | { op: "role"; uid: string; role: "admin" | "member" }
  | { op: "transfer"; uid: string }
  | { op: "mute"; uid: string; seconds: number }
  | { op: "update"; uid: string; role?: "admin" | "member"; seconds?: number }
  | { op: "settings"; joinPolicy?: JoinPolicy; announce?: boolean }
  | { op: "dismiss" };

/**
 * What each command answers. `GroupRpc.command` is typed by it, and the
 * frame handlers check it against the replies' schemas (protocol/replies.ts)
 * at compile time, so the two cannot drift.
 */
export interface CommandResults {
  info: GroupInfo;
  members: { members: Member[] };
  history: GroupHistoryPage;
  join: GroupInfo;
  add: Member;
  invite: { invited: string };
  leave: { left: string };
  kick: { kicked: string };
  role: Member & { changed: boolean };
  transfer: GroupInfo;
  mute: Member;
  update: Member;
  settings: GroupInfo;
  dismiss: GroupInfo;
}

/** The answer to command `C`. */
export type CommandResult<C extends GroupCommand> = CommandResults[C["op"]];

/**
 * A seed chat message the backend relays for its sender (the GatewayClient's
 * `sendToUid` / `sendToGroup` of a `{fromUid, toUid, type, ...}` frame):
 * sent as that user, `body` the frame as given, `id` the seed's message id.
 */
export interface RelayRequest {
  chat: "dm" | "group";
  to: string;
  kind: string;
  body: Record<string, unknown>;
  id?: string | number;
  /** The request's push id: the idempotency key of a frame with no `id` (a retry of the request stores it once). */
  push: string;
}

/** One connected device of a group member (a GatewayWorker client). */
export interface OnlineClient {
  uid: string;
  device: string;
}

/** A message to post, as the sender's user object hands it over. */
export interface PostRequest {
  sender: string;
  /** The sending device (absent for a message the backend relays). */
  device?: string;
  cmid: string;
  kind: string;
  body: unknown;
  mentions?: Mentions;
  /** The quoted message (checked by the sender's object: one they can see in this group). */
  reply?: Quote;
  /** A forward's origin. */
  forwarded?: Origin;
}

/** A post's outcome: the stored message, and whether this call stored it (false: its `cmid` was stored before). */
export interface Posted {
  event: HistoryEvent;
  fresh: boolean;
}

/** What `create` needs besides the creator. */
export interface CreateGroupInput {
  name: string;
  members: string[];
  joinPolicy: "open" | "invite";
  imported?: true;
}

/** A member's view of a group for their conversation list. */
export interface GroupSummary {
  /** The newest message they can see (current version), or null. */
  last: StoredMessage | null;
  lastAt: number;
  /** Messages from others after their read mark, not recalled. */
  unread: number;
}

/** A change to a group message, as the member's user object hands it over. */
export type AmendRequest = UpdateRequest & { mid: string };
