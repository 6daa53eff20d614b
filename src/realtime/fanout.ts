import type { GroupState, HistoryRow, MemberRow } from "../objects/group-state";
import type { HistoryEvent, UnsequencedEvent } from "../protocol";
import { publicView } from "./group-commands";

/** Fan-out limits (see the README's cost model). */
export const FANOUT = {
  /** Group events carried by one call to a member's object. */
  batch: 64,
  /** Calls in flight at once. */
  concurrency: 32,
  /** Calls per invocation before yielding to a fresh alarm (subrequest budget). */
  callsPerRun: 500,
  retryMinMs: 5_000,
  retryMaxMs: 10 * 60_000,
  /** A member still unreachable after this many attempts is given up (logged). */
  maxAttempts: 30
} as const;

const CURSOR = "fanout.cursor";
const PROGRESS = "fanout.progress";

/** The batch being delivered: events (from, to], members done up to uid `after`. */
interface Progress {
  from: number;
  to: number;
  after: string;
}

/** Sends one member's copies to their user object. */
export type Deliver = (uid: string, events: UnsequencedEvent[]) => Promise<unknown>;

/**
 * Durable fan-out of a group's history to its members' user objects.
 * `fanout.cursor` is the gseq every member has; `fanout.progress` records how
 * far through the current batch we are (members in uid order), so a restart
 * resumes mid-batch. Re-sending is harmless: user objects dedupe by event id.
 */
export class Fanout {
  #running: Promise<number | undefined> | undefined;
  #again = false;

  constructor(
    private readonly state: GroupState,
    private readonly kv: SyncKvStorage,
    private readonly deliver: Deliver
  ) {}

  /**
   * Delivers everything not yet delivered. Calls while running make the
   * running pump go round again. Resolves with when it wants to run next
   * (now, to continue with a fresh budget; or the next retry), if ever.
   */
  run(): Promise<number | undefined> {
    this.#again = true;
    this.#running ??= this.#loop().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #loop(): Promise<number | undefined> {
    let next: number | undefined;
    while (this.#again) {
      this.#again = false;
      const budget = { calls: FANOUT.callsPerRun };
      if (!(await this.#pump(budget))) return Date.now();
      next = await this.#retry(budget);
      if (budget.calls <= 0) return Date.now();
    }
    return next;
  }

  /** Delivers batches until caught up (true) or out of budget (false). */
  async #pump(budget: { calls: number }): Promise<boolean> {
    for (;;) {
      const cursor = this.kv.get<number>(CURSOR) ?? 0;
      const head = this.state.head();
      if (cursor >= head) return true;
      let prog = this.kv.get<Progress>(PROGRESS);
      if (!prog || prog.from !== cursor) {
        prog = { from: cursor, to: Math.min(head, cursor + FANOUT.batch), after: "" };
        this.kv.put(PROGRESS, prog);
      }
      const rows = this.state.range(prog.from, prog.to, FANOUT.batch);
      const plan = planDeliveries(this.state.members(), rows).filter(([uid]) => uid > prog!.after);
      for (let i = 0; i < plan.length; i += FANOUT.concurrency) {
        const chunk = plan.slice(i, i + FANOUT.concurrency);
        const results = await Promise.allSettled(chunk.map(([uid, events]) => this.deliver(uid, events)));
        const now = Date.now();
        results.forEach((r, j) => {
          if (r.status === "rejected") {
            console.warn("group delivery failed; will retry", chunk[j]![0], r.reason);
            this.state.addRetry(chunk[j]![0], prog!.from, prog!.to, now + FANOUT.retryMinMs);
          }
        });
        prog = { ...prog, after: chunk.at(-1)![0] };
        this.kv.put(PROGRESS, prog);
        budget.calls -= chunk.length;
        if (budget.calls <= 0 && i + FANOUT.concurrency < plan.length) return false;
      }
      this.kv.put(CURSOR, prog.to);
      this.kv.delete(PROGRESS);
      if (budget.calls <= 0) return this.state.head() <= prog.to;
    }
  }

  /** Retries failed member deliveries that are due; returns the next retry time. */
  async #retry(budget: { calls: number }): Promise<number | undefined> {
    const due = this.state.dueRetries(Date.now(), Math.max(0, Math.min(budget.calls, FANOUT.concurrency)));
    await Promise.all(
      due.map(async (r) => {
        const members = this.state.members().filter((m) => m.uid === r.uid);
        const rows = this.state.range(r.from, r.to, FANOUT.batch);
        const events = planDeliveries(members, rows, r.uid)[0]?.[1] ?? [];
        try {
          if (events.length > 0) await this.deliver(r.uid, events);
          this.state.retryDone(r.uid, r.from);
        } catch (err) {
          if (r.attempts + 1 >= FANOUT.maxAttempts) {
            console.error("group delivery abandoned", r.uid, r.from, r.to, err);
            this.state.retryDone(r.uid, r.from);
          } else {
            const delay = Math.min(FANOUT.retryMaxMs, FANOUT.retryMinMs * 2 ** r.attempts);
            this.state.retryLater(r.uid, r.from, r.attempts + 1, Date.now() + delay);
          }
        }
      })
    );
    budget.calls -= due.length;
    return this.state.nextRetryAt();
  }
}

/**
 * Who gets which of `rows`, in uid order: members get events after they
 * joined; a row's `extra` users (the one kicked, the one invited) get that
 * row. `only` restricts the plan to one user (for retries).
 */
export function planDeliveries(
  members: readonly MemberRow[],
  rows: readonly HistoryRow[],
  only?: string
): [string, UnsequencedEvent[]][] {
  if (rows.length === 0) return [];
  const shared = rows.map((r) => publicView(r.event) as UnsequencedEvent);
  const byUid = new Map<string, UnsequencedEvent[]>();
  const copies = (uid: string, idx: number[]) => idx.map((i) => copyFor(uid, rows[i]!.event, shared[i]!));

  for (const m of members) {
    if (only !== undefined && m.uid !== only) continue;
    const idx: number[] = [];
    rows.forEach((r, i) => {
      if ((r.event.gseq ?? 0) > m.joinedGseq || r.extra.includes(m.uid)) idx.push(i);
    });
    if (idx.length) byUid.set(m.uid, copies(m.uid, idx));
  }
  const extras = new Set(rows.flatMap((r) => r.extra));
  if (extras.size > 0) {
    const memberIds = new Set(members.map((m) => m.uid));
    for (const uid of extras) {
      if (memberIds.has(uid) || (only !== undefined && uid !== only)) continue;
      const idx = rows.flatMap((r, j) => (r.extra.includes(uid) ? [j] : []));
      byUid.set(uid, copies(uid, idx));
    }
  }
  return [...byUid].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The sender's own copy keeps `cmid` and `device` (so that device gets no echo); mentions flag a copy. */
function copyFor(uid: string, e: HistoryEvent, pub: UnsequencedEvent): UnsequencedEvent {
  if (e.type !== "message") return pub;
  if (e.from === uid) return e as UnsequencedEvent;
  const m = e.mentions;
  if (m && (m.all || m.users?.includes(uid))) return { ...pub, mentioned: true } as UnsequencedEvent;
  return pub;
}
