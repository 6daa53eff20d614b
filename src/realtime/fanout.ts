import type { HistoryRow } from "../store/group-history";
import type { GroupState, Span } from "../store/group-state";
import type { HistoryEvent } from "../protocol";
import { planExtras, planLive } from "./group-stream";
import type { LiveRun, PushOutcome } from "../rpc/delivery";

/** Fan-out limits (docs/architecture.md, "Groups: guarantees, limits and cost"). */
export const FANOUT = {
  /** Group events carried by one call to a member's object. */
  batch: 64,
  /** Calls of each run reserved for retries, so they never starve. */
  retryShare: 32,
  retryMinMs: 5_000,
  retryMaxMs: 10 * 60_000,
  /** The cursor is stored at least this often (in events) while nobody is online to push to. */
  cursorEvery: 256
} as const;

export const FANOUT_CURSOR_KEY = "fanout.cursor";
const CURSOR = FANOUT_CURSOR_KEY;
/** Mid-batch position of the per-member fan-out of earlier versions: no longer needed. */
const OLD_PROGRESS = "fanout.progress";

/** What the fan-out calls, so it can be driven without the platform in tests. */
export interface FanoutPorts {
  /** Pushes to one member's devices (stores nothing there); false when the member has no socket. */
  live(uid: string, events: LiveRun[]): Promise<boolean>;
  /** Pushes through relay object `k`, which calls each member's object. */
  relay(k: number, batch: [string, LiveRun[]][]): Promise<PushOutcome>;
  /** Stores events in a user's inbox (the users a row names besides its members). */
  deliver(uid: string, events: HistoryEvent[]): Promise<unknown>;
  /** Which of `uids` have an object with sockets now (the presence registry). */
  onlineAmong(uids: string[]): Promise<Set<string>>;
}

/**
 * The live fan-out of a group's history. Each event is stored once, in the
 * history; this pushes it to the members online now (their objects push to
 * their devices and store nothing) and stores it in the inbox of the few
 * users a row names besides its members (`extra`). Members offline cost
 * nothing: they read the history by cursor when they connect.
 *
 * `fanout.cursor` is the gseq pushed to everyone online; a restart resumes
 * from it (it is stored with every batch that reached someone, and every
 * {@link FANOUT.cursorEvery} events otherwise), so a member may get a push
 * twice, which their stream drops by gseq. A member whose object fails gets
 * its own retry row and never holds up the others; later batches join it,
 * so every member gets the group's events in gseq order.
 */
export class Fanout {
  #running: Promise<number | undefined> | undefined;
  #again = false;
  #cursor: number | undefined;
  #stored = 0;
  #admitAll = false;

  constructor(
    private readonly state: GroupState,
    private readonly kv: SyncKvStorage,
    private readonly ports: FanoutPorts,
    /** Calls per run (one invocation's subrequest budget, with room for D1): FANOUT_CALLS_PER_RUN. */
    private readonly callsPerRun: number,
    /** Calls in flight at once: FANOUT_CONCURRENCY. */
    private readonly concurrency: number,
    /** Online members one relay object pushes to; more online than this go through relays: FANOUT_RELAY_CHUNK. */
    private readonly relayChunk: number
  ) {}

  /** The gseq pushed to everyone online. */
  cursor(): number {
    if (this.#cursor === undefined) {
      this.#cursor = this.#stored = this.kv.get<number>(CURSOR) ?? 0;
      if (this.kv.get(OLD_PROGRESS) !== undefined) this.kv.delete(OLD_PROGRESS);
    }
    return this.#cursor;
  }

  /**
   * Pushes everything not yet pushed, within one run's call budget. Calls
   * while running make the running pump go round again. Resolves with when
   * it wants to run next (now, to continue with a fresh budget; or the next
   * retry), if ever.
   */
  run(): Promise<number | undefined> {
    this.#again = true;
    this.#running ??= this.#loop().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /**
   * The members online now are not known (the group was just loaded from
   * D1): the next batch asks the presence registry about all of them.
   */
  admitEveryone(): void {
    this.#admitAll = true;
  }

  /** Whether the pump has work it has not done: a caller should keep an alarm for it. */
  behind(): boolean {
    return this.cursor() < this.state.head() || this.state.retries.nextAt() !== undefined;
  }

  async #loop(): Promise<number | undefined> {
    const budget = { calls: this.callsPerRun };
    await this.#retry(budget, Math.min(FANOUT.retryShare, budget.calls));
    do {
      while (this.#again) {
        this.#again = false;
        if (!(await this.#pump(budget))) return Date.now();
      }
      if (budget.calls > 0) await this.#retry(budget, budget.calls);
    } while (this.#again); // a post that arrived during the retries
    // Read now: the last pump may have left retries even when it spent the whole budget.
    return budget.calls <= 0 && this.state.retries.due(Date.now(), 1).length > 0 ? Date.now() : this.state.retries.nextAt();
  }

  /** Pushes batches until caught up (true) or out of budget (false). */
  async #pump(budget: { calls: number }): Promise<boolean> {
    for (;;) {
      const from = this.cursor();
      const head = this.state.head();
      if (from >= head) return true;
      if (budget.calls <= 0) return false;
      const to = Math.min(head, from + FANOUT.batch);
      const rows = this.state.history.range(from, to, FANOUT.batch);
      await this.#admitNewMembers(rows, budget);
      const now = Date.now();
      // A member with a retry pending gets this batch through the retry, after what it missed.
      const behind = this.state.retries.behind();
      const recipients: { uid: string; spans: Span[] }[] = [];
      for (const uid of this.state.online.list()) {
        if (behind.has(uid)) this.state.retries.add(uid, from, to, now + FANOUT.retryMinMs);
        else recipients.push({ uid, spans: this.state.spans(uid) });
      }
      const live = planLive(recipients, rows, from);
      const extras = [...planExtras(rows)].filter(([uid]) => {
        if (!behind.has(uid)) return true;
        this.state.retries.add(uid, from, to, now + FANOUT.retryMinMs);
        return false;
      });
      const outcome = await this.#push(live, budget);
      const failed = new Set(outcome.failed);
      for (const uid of outcome.offline) this.state.online.offline(uid, now);
      for (const [uid, events] of extras) {
        try {
          budget.calls--;
          await this.ports.deliver(uid, events);
        } catch (err) {
          console.warn("group delivery failed; will retry", uid, err);
          failed.add(uid);
        }
      }
      for (const uid of failed) this.state.retries.add(uid, from, to, Date.now() + FANOUT.retryMinMs);
      this.#advance(to, live.length + extras.length > 0);
      this.state.pruneOnline(to);
    }
  }

  /** Moves the cursor; stores it when the batch reached someone (or every so often), so a restart re-pushes little. */
  #advance(to: number, reached: boolean): void {
    this.#cursor = to;
    if (reached || to - this.#stored >= FANOUT.cursorEvery) {
      this.kv.put(CURSOR, to);
      this.#stored = to;
    }
  }

  /**
   * The users a batch makes members (`joined`, and everyone in `created`)
   * who are online now but not yet attached: they get the batch live too.
   */
  async #admitNewMembers(rows: readonly HistoryRow[], budget: { calls: number }): Promise<void> {
    const wanted = new Set<string>();
    if (this.#admitAll) {
      this.#admitAll = false;
      for (const m of this.state.members()) wanted.add(m.uid);
    }
    for (const r of rows) {
      const e = r.event;
      if (e.type !== "group") continue;
      if (e.action === "joined" && e.target) wanted.add(e.target);
      if (e.action === "created") for (const m of this.state.members()) if (m.joinedGseq < (e.gseq ?? 0)) wanted.add(m.uid);
    }
    const fresh = [...wanted].filter((uid) => this.state.member(uid) && !this.state.online.has(uid));
    if (fresh.length === 0) return;
    try {
      budget.calls--;
      const online = await this.ports.onlineAmong(fresh);
      const now = Date.now();
      for (const uid of online) this.state.online.add(uid, now);
    } catch (err) {
      // They attach when they next connect, and see the batch in their stream then.
      console.warn("presence lookup for new members failed", err);
    }
  }

  /**
   * One batch's live pushes: straight to each member's object, a round of
   * `concurrency` calls at a time, or through relay objects of
   * `relayChunk` members each when more are online, so no invocation makes
   * more calls than its budget and every online member is two steps away.
   */
  async #push(plan: [string, LiveRun[]][], budget: { calls: number }): Promise<PushOutcome> {
    const out: PushOutcome = { offline: [], failed: [] };
    if (plan.length > this.relayChunk) {
      const chunks: [string, LiveRun[]][][] = [];
      for (let i = 0; i < plan.length; i += this.relayChunk) chunks.push(plan.slice(i, i + this.relayChunk));
      for (let i = 0; i < chunks.length; i += this.concurrency) {
        const round = chunks.slice(i, i + this.concurrency);
        const results = await Promise.allSettled(round.map((c, j) => this.ports.relay(i + j, c)));
        results.forEach((r, j) => {
          if (r.status === "fulfilled") {
            out.offline.push(...r.value.offline);
            out.failed.push(...r.value.failed);
          } else {
            console.warn("relay failed; its members will be retried", r.reason);
            out.failed.push(...round[j]!.map(([uid]) => uid));
          }
        });
        budget.calls -= round.length;
        await yieldToIo();
      }
      return out;
    }
    for (let i = 0; i < plan.length; i += this.concurrency) {
      const round = plan.slice(i, i + this.concurrency);
      const results = await Promise.allSettled(round.map(([uid, events]) => this.ports.live(uid, events)));
      results.forEach((r, j) => {
        const uid = round[j]![0];
        if (r.status === "rejected") {
          console.warn("live push failed; will retry", uid, r.reason);
          out.failed.push(uid);
        } else if (!r.value) out.offline.push(uid);
      });
      budget.calls -= round.length;
      await yieldToIo();
    }
    return out;
  }

  /**
   * Makes up to `max` retry calls, `concurrency` at a time, while any are due
   * (a member catching up on a long range stays due until it has it all).
   */
  async #retry(budget: { calls: number }, max: number): Promise<void> {
    for (let made = 0; made < max; ) {
      const n = await this.#retryRound(Math.min(max - made, this.concurrency));
      if (n === 0) break;
      made += n;
      budget.calls -= n;
    }
  }

  /**
   * One round of at most `max` due retries, in parallel (one per member):
   * what the member's inbox must hold (rows naming them), and, if they are
   * still online, the live push. Returns how many.
   */
  async #retryRound(max: number): Promise<number> {
    const due = this.state.retries.due(Date.now(), Math.max(0, max));
    await Promise.all(
      due.map(async (r) => {
        const rows = this.state.history.range(r.from, r.to, FANOUT.batch);
        const reached = rows.length === FANOUT.batch ? (rows.at(-1)!.event.gseq ?? r.to) : r.to;
        const extras = planExtras(rows).get(r.uid) ?? [];
        const live = this.state.online.has(r.uid) ? (planLive([{ uid: r.uid, spans: this.state.spans(r.uid) }], rows, r.from)[0]?.[1] ?? []) : [];
        const startedAt = Date.now();
        try {
          if (extras.length > 0) await this.ports.deliver(r.uid, extras);
          if (live.length > 0 && !(await this.ports.live(r.uid, live))) this.state.online.offline(r.uid, startedAt);
          if (reached >= r.to) this.state.retries.done(r.uid, r.from);
          else this.state.retries.advanced(r.uid, r.from, reached, r.to, Date.now());
        } catch (err) {
          const delay = Math.min(FANOUT.retryMaxMs, FANOUT.retryMinMs * 2 ** r.attempts);
          console.warn("group delivery retry failed", r.uid, r.from, r.to, r.attempts, err);
          this.state.retries.later(r.uid, r.from, r.attempts + 1, Date.now() + delay);
        }
      })
    );
    return due.length;
  }
}

/**
 * A timer turn between rounds of calls. Calls to objects in the same process
 * resolve without touching the network, so without it a long fan-out keeps
 * the event loop busy and the sender's next frames wait unread until it
 * ends; with it, posts keep arriving during a fan-out and the next batch
 * carries them all.
 */
export function yieldToIo(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
