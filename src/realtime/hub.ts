import type { Limits } from "../config";
import type { InboxEvent, ServerFrame } from "../protocol";
import type { Inbox } from "../objects/inbox";
import type { Result } from "../lib/result";
import type { HistoryEvent } from "../protocol";
import type { PostRequest } from "./group-commands";

/** The connection a frame arrived on, rehydrated from its attachment. */
export interface Conn {
  ws: WebSocket;
  uid: string;
  device: string;
}

/**
 * What per-frame handlers may use of a user's object. The UserObject
 * implements it; handlers hold the protocol logic, the object holds state.
 */
export interface UserHub {
  readonly uid: string;
  readonly env: Env;
  readonly limits: Limits;
  readonly inbox: Inbox;
  /** Current friend ids (cached; invalidated when a friendship changes). */
  friends(): Promise<ReadonlySet<string>>;
  /** The cached friend ids if fresh, without waiting (no chance for other events to interleave). */
  friendsNow(): ReadonlySet<string> | undefined;
  /** Whether `uid` has an account (D1), for telling `stranger` from `unknown_user`. */
  userExists(uid: string): Promise<boolean>;
  /** Pushes a frame to every open device of this user, except `exceptDevice`. */
  push(frame: ServerFrame, exceptDevice?: string): void;
  /**
   * Delivers a stored, pending event to the user or group it names and marks
   * it delivered. Throws `ProtocolError` if the target refused it or could not
   * be reached; the event stays pending and the alarm retries it.
   */
  forward(event: InboxEvent, target: string): Promise<void>;
  /** Posts to a group's object (batched with other posts to the same group). */
  post(gid: string, request: PostRequest): Promise<Result<HistoryEvent>>;
  /** Called after every append, so retention (and retries, if `pending`) get scheduled. */
  appended(now: number, pending: boolean): void;
}
