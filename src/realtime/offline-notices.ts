import type { LiveRun } from "../rpc/delivery";
import type { InboxEvent, NotificationPayload, StoredMessage } from "../protocol";
import type { Inbox } from "../store/inbox";
import type { GroupLinks } from "./group-links";
import { messagesInRuns, Notifier, notificationsFor } from "./notifier";

/** What a user object lends its offline notifications. */
export interface OfflineNoticeDeps {
  sql: SqlStorage;
  env: object;
  uid: () => string;
  inbox: Inbox;
  groups: GroupLinks;
  /** How many sockets this user has open now. */
  sockets: () => number;
  waitUntil: (p: Promise<unknown>) => void;
  ensureAlarm: (at: number) => Promise<void>;
}

/**
 * A user object's side of offline notifications: which of the events it
 * stores or is pushed call for one while no device is connected, what a
 * connecting device clears, and how a waiting notification's message is
 * read again before it is sent. The subscriptions and sending are the
 * {@link Notifier}'s.
 */
export class OfflineNotices {
  readonly notifier: Notifier;

  constructor(private readonly d: OfflineNoticeDeps) {
    this.notifier = new Notifier(d.sql, d.env, (p) => this.#shownNow(p));
  }

  /** A device connected: what waits to be notified it sees on the socket. */
  connected(): void {
    if (this.notifier.active()) this.notifier.outbox.clear();
  }

  /** Events just stored in the inbox: recalls take waiting notifications back; messages notify if no device is here. */
  stored(events: readonly InboxEvent[]): void {
    if (!this.notifier.active()) return;
    for (const e of events) if (e.type === "update" && e.op === "recall") this.notifier.outbox.forget(e.mid);
    if (this.d.sockets() === 0) this.#notify(events.filter((e) => e.type === "message"));
  }

  /** A group's live push found no socket here: the group stops pushing, so this is the conversation's one notification. */
  missedLive(gid: string, runs: readonly LiveRun[]): void {
    if (this.notifier.active()) this.#notify(messagesInRuns(runs).filter((m) => m.to === gid));
  }

  /** A group message that mentions this user, who was not online in the group. */
  mentioned(gid: string, message: StoredMessage): void {
    if (this.d.sockets() > 0 || !this.notifier.active() || message.to !== gid) return;
    this.#notify([message]);
  }

  /** Queues what `messages` call for and sends it in the background; the alarm retries. */
  #notify(messages: readonly StoredMessage[]): void {
    const notes = notificationsFor(this.d.uid(), messages, (chat, peer) => this.d.inbox.conversations.muted(chat, peer) === true);
    if (notes.length === 0) return;
    const now = Date.now();
    for (const [conv, payload] of notes) this.notifier.queue(conv, payload, now);
    this.d.waitUntil(
      this.notifier
        .flush()
        .then((next) => (next !== undefined ? this.d.ensureAlarm(next) : undefined))
        .catch((err) => console.error("notification flush failed", err))
    );
  }

  /** A waiting notification's message as it is now, if it may still be shown: not recalled, not deleted for this user. */
  async #shownNow(p: NotificationPayload): Promise<StoredMessage | undefined> {
    if (p.chat === "dm") {
      const e = this.d.inbox.byEventId(p.mid);
      return e?.type === "message" && e.recalled === undefined && !e.deleted ? e : undefined;
    }
    return this.d.groups.message(p.mid).then(
      (m) => (m.message.recalled === undefined ? m.message : undefined),
      () => undefined
    );
  }
}
