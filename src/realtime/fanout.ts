import type { HistoryRow } from "../objects/group-history";
import type { GroupState, Window } from "../objects/group-state";
import type { HistoryEvent, UnsequencedEvent } from "../protocol";
import type { Deliverable } from "./hub";
import { publicView } from "./group-commands";

/** Fan-out limits (see the README's cost model). */
export const FANOUT = {
  /** Group events carried by one call to a member's object. */
  batch: 64,
  /** Calls in flight at once (default of FANOUT_CONCURRENCY). */
  concurrency: 8,
  /** Calls per run (one invocation's subrequest budget, with room for D1). */
  callsPerRun: 400,
  /** Calls of each run reserved for retries, so they never starve. */
  retryShare: 32,
  retryMinMs: 5_000,
  retryMaxMs: 10 * 60_000
} as const;

export const FANOUT_CURSOR_KEY = "fanout.cursor";
const CURSOR = FANOUT_CURSOR_KEY;
const PROGRESS = "fanout.progress";

/** The batch being delivered: events (from, to], recipients done up to uid `after`. */
export interface Progress {
  from: number;
  to: number;
  after: string;
}

/** Sends one member's copies to their user object. */
export type Deliver = (uid: string, events: Deliverable[]) => Promise<unknown>;

/**
 * Durable fan-out of a group's history to its members' user objects.
 * `fanout.cursor` is the gseq every recipient has; `fanout.progress` records
 * how far through the current batch we are (recipients in uid order), so a
 * restart resumes mid-batch. Re-sending is harmless: user objects dedupe by
 * event id. A recipient whose object fails gets its own retry row and never
 * holds up the others; it is retried with backoff until it succeeds, and
 * later batches join its retry instead of overtaking what it missed, so
 * every member gets the group's events in gseq order.
 */
export class Fanout {
  #running: Promise<number | undefined> | undefined;
  #again = false;

  constructor(
    private readonly state: GroupState,
    private readonly kv: SyncKvStorage,
    private readonly deliver: Deliver,
    private readonly callsPerRun: number = FANOUT.callsPerRun,
    private readonly concurrency: number = FANOUT.concurrency
  ) {}

  /**
   * Delivers everything not yet delivered, within one run's call budget.
   * Calls while running make the running pump go round again. Resolves with
   * when it wants to run next (now, to continue with a fresh budget; or the
   * next retry), if ever.
   */
  run(): Promise<number | undefined> {
    this.#again = true;
    this.#running ??= this.#loop().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
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

  /** Delivers batches until caught up (true) or out of budget (false). */
  async #pump(budget: { calls: number }): Promise<boolean> {
    for (;;) {
      const cursor = this.kv.get<number>(CURSOR) ?? 0;
      const head = this.state.head();
      if (cursor >= head) return true;
      if (budget.calls <= 0) return false;
      let prog = this.kv.get<Progress>(PROGRESS);
      if (!prog || prog.from !== cursor) {
        prog = { from: cursor, to: Math.min(head, cursor + FANOUT.batch), after: "" };
        this.kv.put(PROGRESS, prog);
      }
      const rows = this.state.history.range(prog.from, prog.to, FANOUT.batch);
      // A member with a retry pending gets this batch through the retry, after what it missed.
      const behind = this.state.retries.behind();
      const plan = planDeliveries(this.state.windows(), rows).filter(([uid]) => {
        if (uid <= prog!.after) return false;
        if (!behind.has(uid)) return true;
        this.state.retries.add(uid, prog!.from, prog!.to, Date.now() + FANOUT.retryMinMs);
        return false;
      });
      for (let i = 0; i < plan.length; ) {
        if (budget.calls <= 0) return false;
        const chunk = plan.slice(i, i + Math.min(this.concurrency, budget.calls));
        i += chunk.length;
        const results = await Promise.allSettled(chunk.map(([uid, events]) => this.deliver(uid, events)));
        const now = Date.now();
        results.forEach((r, j) => {
          if (r.status === "rejected") {
            console.warn("group delivery failed; will retry", chunk[j]![0], r.reason);
            this.state.retries.add(chunk[j]![0], prog!.from, prog!.to, now + FANOUT.retryMinMs);
          }
        });
        prog = { ...prog, after: chunk.at(-1)![0] };
        this.kv.put(PROGRESS, prog);
        budget.calls -= chunk.length;
        await yieldToIo();
      }
      this.kv.put(CURSOR, prog.to);
      this.kv.delete(PROGRESS);
      this.state.pruneDeparted(prog.to);
    }
  }

  /**
   * Makes up to `max` retry calls, `concurrency` at a time, while any are due
   * (a member catching up on a long range stays due until it has it all).
   */
  async #retry(budget: { calls: number }, max: number): Promise<void> {
    for (let made = 0; made < max; ) {
      const n = await this.#retryRound(budget, Math.min(max - made, this.concurrency));
      if (n === 0) break;
      made += n;
    }
  }

  /** One round of at most `max` due retries, in parallel (one per member); returns how many. */
  async #retryRound(budget: { calls: number }, max: number): Promise<number> {
    const due = this.state.retries.due(Date.now(), Math.max(0, max));
    await Promise.all(
      due.map(async (r) => {
        const rows = this.state.history.range(r.from, r.to, FANOUT.batch);
        const windows = this.state.windows().filter((w) => w.uid === r.uid);
        const events = planDeliveries(windows, rows, r.uid)[0]?.[1] ?? [];
        try {
          if (events.length > 0) await this.deliver(r.uid, events);
          const reached = rows.length === FANOUT.batch ? (rows.at(-1)!.event.gseq ?? r.to) : r.to;
          if (reached >= r.to) this.state.retries.done(r.uid, r.from);
          else this.state.retries.advanced(r.uid, r.from, reached, r.to, Date.now());
        } catch (err) {
          const delay = Math.min(FANOUT.retryMaxMs, FANOUT.retryMinMs * 2 ** r.attempts);
          console.warn("group delivery retry failed", r.uid, r.from, r.to, r.attempts, err);
          this.state.retries.later(r.uid, r.from, r.attempts + 1, Date.now() + delay);
        }
      })
    );
    budget.calls -= due.length;
    if (due.length > 0) this.state.pruneDeparted(this.kv.get<number>(CURSOR) ?? 0);
    return due.length;
  }
}

/**
 * A timer turn between chunks. Calls to objects in the same process resolve
 * without touching the network, so without it a long fan-out keeps the event
 * loop busy and the sender's next frames wait unread until it ends; with it,
 * posts keep arriving during a fan-out and the next batch carries them all.
 */
function yieldToIo(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Who gets which of `rows`, in uid order: each recipient gets the events
 * inside its windows (after joining, up to leaving); a row's `extra` users
 * (the one kicked, the one invited) get that row. `only` restricts the plan to
 * one user (for retries). Ordinary recipients share one array per window
 * shape; only senders, mentioned users and extras get copies of their own.
 */
export function planDeliveries(
  windows: readonly Window[],
  rows: readonly HistoryRow[],
  only?: string
): [string, Deliverable[]][] {
  if (rows.length === 0) return [];
  const gseqs = rows.map((r) => r.event.gseq ?? 0);
  const generic = rows.map((r) => genericCopy(r.event));
  const special = new Set<string>();
  const extras = new Map<string, number[]>();
  rows.forEach((r, i) => {
    if (r.event.type === "message") {
      special.add(r.event.from);
      for (const u of r.event.mentions?.users ?? []) special.add(u);
    }
    for (const u of r.extra) {
      special.add(u);
      extras.set(u, [...(extras.get(u) ?? []), i]);
    }
  });

  rows.forEach((r) => {
    for (const u of [...r.except, ...Object.keys(r.skip)]) special.add(u);
  });
  const ranges = new Map<string, number[]>();
  for (const w of windows) {
    if (only !== undefined && w.uid !== only) continue;
    const idx = ranges.get(w.uid) ?? [];
    gseqs.forEach((g, i) => {
      if (g > w.from && g <= w.to && !rows[i]!.except.includes(w.uid) && sawMessage(rows[i]!.event, w)) idx.push(i);
    });
    ranges.set(w.uid, idx);
  }
  for (const [uid, idx] of extras) {
    if (only === undefined || uid === only) ranges.set(uid, [...(ranges.get(uid) ?? []), ...idx]);
  }

  const shared = new Map<string, UnsequencedEvent[]>();
  const out: [string, Deliverable[]][] = [];
  for (const [uid, raw] of ranges) {
    if (raw.length === 0) continue;
    const idx = [...new Set(raw)].sort((a, b) => a - b);
    if (!special.has(uid)) {
      const key = idx.join(",");
      let events = shared.get(key);
      if (!events) shared.set(key, (events = idx.map((i) => generic[i]!)));
      out.push([uid, events]);
    } else {
      out.push([uid, idx.map((i) => withSkip(copyFor(uid, rows[i]!.event, generic[i]!), rows[i]!.skip[uid]))]);
    }
  }
  return out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * An update reaches only those who received the message it changes (it would
 * leak it otherwise), except a recall, which carries no content and lets a
 * later member's inbox scrub its quotes of the message.
 */
function sawMessage(e: HistoryEvent, w: Window): boolean {
  return e.type !== "update" || e.op === "recall" || e.mgseq === undefined || e.mgseq > w.from;
}

function withSkip(e: UnsequencedEvent, devices: string[] | undefined): Deliverable {
  return devices?.length ? { ...e, skipDevices: devices } : e;
}

/** What a recipient with no role in the event gets (`@all` flags every copy). */
function genericCopy(e: HistoryEvent): UnsequencedEvent {
  const pub = publicView(e) as UnsequencedEvent;
  return e.type === "message" && e.mentions?.all ? ({ ...pub, mentioned: true } as UnsequencedEvent) : pub;
}

/** The sender's own copy keeps `cmid` and `device` (so that device gets no echo); mentions flag a copy. */
function copyFor(uid: string, e: HistoryEvent, generic: UnsequencedEvent): UnsequencedEvent {
  if (e.type !== "message") return generic;
  if (e.from === uid) return e as UnsequencedEvent;
  if (e.mentions?.users?.includes(uid)) return { ...generic, mentioned: true } as UnsequencedEvent;
  return generic;
}
