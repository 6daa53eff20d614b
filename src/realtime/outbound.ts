import type { AlarmScheduler } from "../store/alarm";
import type { Inbox } from "../store/inbox";
import { ERRORS, type InboxEvent, ProtocolError, type UnsequencedEvent } from "../protocol";
import { Courier } from "./courier";
import { type Crossing, gate, type GateDecision, type PeerSets } from "../rules/gate";
import { DELIVERED_FLUSH_MS } from "../store/pending";
import type { FriendCache } from "../store/friends";
import type { Delivered } from "../rpc/delivery";
import { userStub } from "../rpc/stubs";
import { parseTarget, userTarget } from "../rules/targets";

/** First retry of an unconfirmed delivery; later ones back off up to the max. */
export const RETRY_MIN_MS = 30_000;
const RETRY_MAX_MS = 10 * 60_000;
/** Events one alarm run retries: at most RETRY_PER_TARGET of each target, RETRY_BATCH in all. */
const RETRY_BATCH = 400;
const RETRY_PER_TARGET = 100;

/** Most earlier events a call to a target that fell behind carries before its own. */
const CATCH_UP_MAX = 200;

/**
 * A user's outgoing direct deliveries: pending events in their inbox go to
 * the recipient's object, batched per recipient, re-gated on friendship and
 * blocks on every attempt, and retried from the alarm until confirmed.
 *
 * Each recipient gets this user's events in the order they were stored: a
 * call to a target that failed before (or that this object has not called
 * since it started) carries what is still pending for it first (the
 * recipient drops what it already has), so a later message or reaction
 * never overtakes an earlier one waiting for a retry.
 */
export class Outbound {
  readonly #courier: Courier<InboxEvent, Delivered>;
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * Targets whose last call succeeded with nothing else waiting for them but
   * what was queued behind it. Any other target (after a failure, an alarm
   * run over part of a backlog, or first seen since this object started) is
   * checked for older pending events first.
   */
  readonly #inOrder = new Set<string>();

  constructor(
    private readonly env: Env,
    private readonly inbox: Inbox,
    private readonly friends: FriendCache,
    private readonly alarm: AlarmScheduler,
    /** Direct-message kinds that need no friendship (blocks still apply). */
    private readonly strangerKinds: ReadonlySet<string>
  ) {
    this.#courier = new Courier((target, events) => this.#call(target, events));
  }

  /**
   * Delivers a pending event to its target. A resend or retry to someone no
   * longer a friend (or blocked) is refused and stops being retried; other
   * events pending for the same target are judged on their own (a seed
   * `friend_response` may still go to a non-friend).
   * Transient failures become `unavailable` and, unless the caller is the
   * alarm itself, schedule a retry.
   */
  async forward(event: InboxEvent, target: string, scheduleRetry = true): Promise<void> {
    const t = parseTarget(target);
    try {
      if (t?.kind === "user") {
        const peers = this.friends.peek() ?? (await this.friends.get());
        const verdict = this.#gate(event, t.id, peers);
        if (!verdict.ok) {
          this.inbox.pending.abandonEvents([event.seq]);
          throw verdict.error;
        }
      }
      await this.#courier.send(target, event);
    } catch (err) {
      if (err instanceof ProtocolError && (err.code === "stranger" || err.code === "blocked")) throw err;
      // Still pending: the next call to this target sends it first.
      this.#inOrder.delete(target);
      if (scheduleRetry) void this.alarm.ensure(Date.now() + RETRY_MIN_MS);
      if (err instanceof ProtocolError) throw err;
      console.warn("delivery failed; will retry", target, err);
      throw new ProtocolError("unavailable", "recipient unreachable; resend with the same cmid");
    }
  }

  /**
   * `uid` is no longer a friend: what is still pending for them is dropped,
   * but for messages of the kinds a non-friend may be sent, which every
   * retry judges again ({@link forward}: the seed's frame shape, blocks).
   */
  unfriended(uid: string): void {
    const target = userTarget(uid);
    this.inbox.pending.abandonAllBut(target, [...this.strangerKinds]);
    this.#inOrder.delete(target);
  }

  /**
   * The friendship gate, again, for an event stored for `uid`: a message
   * crosses as one (a stranger kind may still go to a non-friend), anything
   * else to friends only. The recipient existed when it was stored.
   */
  #gate(event: InboxEvent, uid: string, peers: PeerSets): GateDecision {
    const crossing: Crossing =
      event.type === "message"
        ? { what: "message", kind: event.kind, body: event.body, strangerKinds: this.strangerKinds }
        : { what: "friends_only" };
    return gate(peers, uid, crossing, true);
  }

  /**
   * Retries the oldest pending events of each target, batched per target, so
   * a target that keeps failing (even with a long backlog) never blocks the
   * others. Returns when to try again: at once while a target that went
   * through has more waiting, else after a backoff if any failed.
   */
  async retryPending(now: number): Promise<number | undefined> {
    const pending = this.inbox.pending.oldest(RETRY_BATCH, RETRY_PER_TARGET);
    if (pending.length === 0) return undefined;
    const results = await Promise.allSettled(pending.map((p) => this.forward(p.event, p.target, false)));
    const failed = pending.filter((_, i) => {
      const r = results[i]!;
      return r.status === "rejected" && !(r.reason instanceof ProtocolError && !ERRORS[r.reason.code].retryable);
    });
    const failing = new Set(failed.map((p) => p.target));
    const perTarget = new Map<string, number>();
    for (const p of pending) perTarget.set(p.target, (perTarget.get(p.target) ?? 0) + 1);
    const more =
      (pending.length === RETRY_BATCH && failing.size < perTarget.size) ||
      [...perTarget].some(([target, n]) => n === RETRY_PER_TARGET && !failing.has(target));
    if (more) return now;
    if (failed.length === 0) return undefined;
    const age = now - Math.min(...failed.map((p) => p.event.ts));
    return now + Math.min(RETRY_MAX_MS, Math.max(RETRY_MIN_MS, age));
  }

  /** One cross-object call for a batch of events to one target; confirms them all at once. */
  async #call(target: string, events: InboxEvent[]): Promise<Delivered[]> {
    const t = parseTarget(target);
    if (!t) throw new ProtocolError("internal", `unknown delivery target ${target}`);
    const checked = !this.#inOrder.has(target);
    const { batch, complete } = checked ? await this.#withEarlier(target, t.id, events) : { batch: bySeq(events), complete: true };
    let results: Delivered[];
    try {
      results = await userStub(this.env, t.id).deliver(batch.map(recipientCopy));
    } catch (err) {
      this.#inOrder.delete(target);
      throw err;
    }
    this.inbox.pending.delivered(target, batch.at(-1)!.seq);
    // Written soon, with whatever else moved (and before the alarm reads the pending state).
    this.#flushTimer ??= setTimeout(() => {
      this.#flushTimer = undefined;
      this.inbox.pending.flush();
    }, DELIVERED_FLUSH_MS);
    if (!complete) {
      // Only the backlog went: this batch waits for the alarm, which sends in order.
      void this.alarm.ensure(Date.now());
      throw new ProtocolError("unavailable", "earlier messages to this recipient are still being delivered; resend with the same cmid");
    }
    if (!checked || this.#caughtUp(target)) this.#inOrder.add(target);
    if (batch === events) return results;
    const at = new Map(batch.map((e, i) => [e.seq, i]));
    return events.map((e) => results[at.get(e.seq)!]!);
  }

  /**
   * Whether everything still waiting for `target` is queued behind this call
   * (the next call sends it in order). Otherwise (an alarm run that covered
   * only part of a backlog) the next call looks for older events again.
   */
  #caughtUp(target: string): boolean {
    const queued = new Set(this.#courier.queued(target).map((e) => e.seq));
    return this.inbox.pending.seqsFor(target, queued.size + 1).every((seq) => queued.has(seq));
  }

  /**
   * `events` with what is still pending for `target` from before the last of
   * them (below the first, or in a gap between two) that the target may be
   * sent now, in seq order. When that backlog fills a call
   * ({@link CATCH_UP_MAX}), only the oldest events up to its end go, in
   * order, and the call is `complete: false`.
   */
  async #withEarlier(target: string, uid: string, events: InboxEvent[]): Promise<{ batch: InboxEvent[]; complete: boolean }> {
    const mine = new Set(events.map((e) => e.seq));
    const last = Math.max(...mine);
    const stored = this.inbox.pending.before(target, last, CATCH_UP_MAX);
    const earlier = stored.filter((e) => !mine.has(e.seq));
    if (earlier.length === 0) return { batch: bySeq(events), complete: true };
    const peers = this.friends.peek() ?? (await this.friends.get());
    const batch = [...earlier.filter((e) => this.#gate(e, uid, peers).ok), ...events].sort((a, b) => a.seq - b.seq);
    if (stored.length < CATCH_UP_MAX) return { batch, complete: true };
    const end = stored[CATCH_UP_MAX - 1]!.seq;
    return { batch: batch.filter((e) => e.seq <= end), complete: false };
  }
}

/** `events` in seq order (usually already so: the same array then). */
function bySeq(events: InboxEvent[]): InboxEvent[] {
  return events.every((e, i) => i === 0 || events[i - 1]!.seq < e.seq) ? events : [...events].sort((a, b) => a.seq - b.seq);
}

/** The recipient's copy: no sender seq; the sender's client id, device and unread count stay private. */
function recipientCopy(e: InboxEvent): UnsequencedEvent {
  const { seq: _seq, ...rest } = e;
  if (rest.type === "receipt") {
    const { unread: _unread, ...receipt } = rest; // the reader's own count
    return receipt;
  }
  if (rest.type !== "message") return rest;
  const { cmid: _cmid, device: _device, ...msg } = rest;
  return msg;
}
