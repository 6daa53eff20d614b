import type { Limits } from "../lib/config";
import type { Logger } from "../lib/log";
import type { InboxEvent, ServerFrame, UnsequencedEvent } from "../protocol";
import type { Peers } from "../db/friendships";
import type { CompatQueue } from "../store/compat-queue";
import type { TokenBucket } from "../rules/rate-limit";
import type { TypingGate } from "../rules/typing";
import type { Inbox } from "../store/inbox";
import type { Privacy } from "../store/privacy";
import type { DeliveredReceipts } from "../store/delivered";
import type { Result } from "../lib/result";
import type { GroupLinks } from "./group-links";
import type { Notifier } from "./notifier";
import type { WebhookType } from "../store/webhooks";
import type { Posted, PostRequest } from "../rpc/calls";

/** The connection a frame arrived on, rehydrated from its attachment. */
export interface Conn {
  ws: WebSocket;
  uid: string;
  device: string;
}

/** Who sends a message: a device's socket, or the backend relaying for the user (no device). */
export interface Sender {
  uid: string;
  device?: string;
}

/**
 * What per-frame handlers may use of a user's object. The UserObject
 * implements it; handlers hold the protocol logic, the object holds state.
 */
export interface UserHub {
  readonly uid: string;
  readonly env: Env;
  readonly limits: Limits;
  /** Structured logs: ids and counts, never bodies or tokens. */
  readonly log: Logger;
  readonly inbox: Inbox;
  /** This user's groups: memberships, per-device cursors, and each group's stream. */
  readonly groups: GroupLinks;
  /** This user's send budget (all devices share it). */
  readonly sends: TokenBucket;
  /** Throttle of this user's typing signals. */
  readonly typing: TypingGate;
  /** The delivered receipts this user's acks owe their peers. */
  readonly delivered: DeliveredReceipts;
  /** This user's privacy settings (who sees when they were last online). */
  readonly privacy: Privacy;
  /** The seed's offline list for `/ws/compat` sockets (only kept once the user used one). */
  readonly compat: CompatQueue;
  /** A compat device sent a frame: it confirms what it was handed before `cutoff` (direct and group). */
  confirmCompat(device: string, cutoff: number): void;
  /** Devices of this user's open compat sockets. */
  compatDevices(): string[];
  /** This user's open compat sockets and what each holds of group events (`CompatSockets`). */
  readonly compatSockets: {
    open(): WebSocket[];
    /** Where a `pull` of group `gid` starts: past what was confirmed, or an open compat socket holds. */
    groupStart(gid: string): number;
  };
  /** Friends and blocks (cached; invalidated when either changes). `friends` excludes blocked peers. */
  peers(): Promise<Peers>;
  /** The cached peers if fresh, without waiting (no chance for other events to interleave). */
  peersNow(): Peers | undefined;
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
  post(gid: string, request: PostRequest): Promise<Result<Posted>>;
  /** Reports an event to the deployment's webhook, if one is configured (durably, retried). */
  webhook(type: WebhookType, data: unknown): void;
  /** Counts a message this user sent, for the deployment's `messages` counter. */
  countSent(): void;
  /**
   * Called after every append, so retention gets scheduled (an alarm write
   * only when the oldest event changed or the inbox went over its cap).
   * Deliveries arm the alarm only when one fails (or on start, for what a
   * crash left waiting).
   */
  appended(now: number): void;
  /**
   * The one way a handler stores an event this user originates (a receipt,
   * an update, a conversation setting): appended to the inbox, pending
   * delivery to `to` if given, pushed to this user's devices but
   * `exceptDevice`, retention scheduled, and reported to the webhook as
   * `webhook` if given, all in one synchronous step (one commit). Then it is
   * delivered to `to`; a delivery that fails stays pending for the alarm
   * (logged `<type>_deferred`), and the record holds either way.
   */
  record<E extends OwnEvent>(event: E, opts?: RecordOptions): Promise<E & { seq: number }>;
  /** This user's push subscriptions and offline notifications. */
  readonly notifier: Notifier;
}

/** What a user's own event may be: the event types that name a peer and a message, or a conversation setting. */
export type OwnEvent = Extract<UnsequencedEvent, { type: "receipt" | "update" | "conversation" }>;

export interface RecordOptions {
  /** The delivery target (a user's); none for events only this user's devices see. */
  to?: string | null;
  exceptDevice?: string;
  webhook?: WebhookType;
}

/** {@link UserHub.record}, over the hub's other parts. */
export async function recordOwn<E extends OwnEvent>(hub: UserHub, event: E, opts: RecordOptions = {}): Promise<E & { seq: number }> {
  const to = opts.to ?? null;
  const stored = hub.inbox.appendOwn(event, event.ts, to);
  hub.push(stored, opts.exceptDevice);
  hub.appended(event.ts);
  if (opts.webhook) {
    const { seq: _seq, ...reported } = stored;
    hub.webhook(opts.webhook, reported);
  }
  if (to !== null) {
    try {
      await hub.forward(stored, to);
    } catch (err) {
      hub.log.warn(`${event.type}_deferred`, { uid: hub.uid, to: "to" in event ? event.to : to, mid: "mid" in event ? event.mid : undefined, error: String(err) });
    }
  }
  return stored;
}
