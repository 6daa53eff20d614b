import type { GroupPage, GroupStreamEvent, InboxEvent, SyncResult } from "../protocol";
import { ACK_GROUPS_MAX, groupOf } from "../protocol/streams";
import type { ClientEvents } from "./events";
import type { Emitter } from "./emitter";
import { ImError } from "./errors";
import type { SeqStore } from "./store";
import { stopTimer } from "./wire";

/** Page size of the syncs that fill a hole. */
const SYNC_PAGE = 200;
/** How often, at most, the device's position is acked to the server. */
const ACK_EVERY_MS = 500;

/** What a device acknowledges: its inbox seq, and per group the last gseq. */
export interface Ack {
  seq?: number;
  groups?: Record<string, number>;
}

/** One group's stream on this device: the last gseq delivered, and whether a sync is filling a hole. */
interface Stream {
  last: number;
  syncing: boolean;
  resync: boolean;
}

/**
 * Hands a device's durable events to the app exactly once and in order:
 * inbox events in seq order, and each group's events (stored once, in the
 * group) in gseq order within that group. Live pushes and sync pages both
 * come through here; a hole (a seq skipped, or a group event whose `prev`
 * is above the last gseq delivered) is filled with `sync` from the last one
 * delivered. Positions are saved to the {@link SeqStore} and acked to the
 * server at most twice a second.
 */
export class InOrderDelivery {
  #lastSeq = 0;
  #ackedSeq = 0;
  #loaded = false;
  #syncing = false;
  /** A live event showed a hole while a sync was running: sync once more. */
  #resync = false;
  readonly #groups = new Map<string, Stream>();
  /** Groups whose position moved since the last ack. */
  readonly #unacked = new Set<string>();
  #ackTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly store: SeqStore,
    private readonly events: Emitter<ClientEvents>,
    /** Asks the server for the inbox page after `after`. */
    private readonly sync: (after: number, limit: number) => Promise<SyncResult>,
    /** Asks the server for the page of group `gid` after gseq `after`. */
    private readonly syncGroup: (gid: string, after: number, limit: number) => Promise<GroupPage>,
    /** Sends an ack frame; false when there is no open socket. */
    private readonly sendAck: (ack: Ack) => boolean
  ) {}

  /** The seq of the last inbox event delivered to the app. */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** The gseq of the last event of `gid` delivered to the app. */
  lastGseq(gid: string): number {
    return this.#groups.get(gid)?.last ?? 0;
  }

  /** Reads the saved position, once. */
  async load(): Promise<void> {
    if (this.#loaded) return;
    this.#lastSeq = this.#ackedSeq = await this.store.load();
    for (const [gid, gseq] of Object.entries((await this.store.loadGroups?.()) ?? {})) this.#stream(gid).last = gseq;
    this.#loaded = true;
  }

  /** A connection is open on a server whose inbox ends at `head`. */
  welcomed(head: number): void {
    if (head < this.#lastSeq) {
      this.events.emit("reset", { lastSeq: this.#lastSeq, head });
      this.#lastSeq = this.#ackedSeq = head;
      this.#save(head);
    }
    if (this.#lastSeq > this.#ackedSeq) this.#scheduleAck();
  }

  /** The `catchup` page that follows a welcome; syncs on while more remain. */
  caughtUp(page: SyncResult): void {
    if (this.#apply(page)) void this.#catchUp();
  }

  /** A `group_catchup` page (what this device missed of one group); syncs on while more remain. */
  groupCaughtUp(page: GroupPage): void {
    if (this.#applyGroup(page)) void this.#catchUpGroup(page.gid);
  }

  /** A pushed event: an inbox one (with `seq`) or a group's (with `gseq` and `prev`). */
  live(e: InboxEvent | GroupStreamEvent): void {
    if (typeof (e as { seq?: unknown }).seq !== "number") return this.#liveGroup(e as GroupStreamEvent);
    const ie = e as InboxEvent;
    if (ie.seq <= this.#lastSeq) return; // already delivered (a sync page overlapped the push)
    if (ie.seq === this.#lastSeq + 1) return this.#deliver(ie);
    // A hole: fetch everything after lastSeq, this event included (again, if a sync is already running).
    this.#resync = true;
    void this.#catchUp();
  }

  /**
   * This device posted to `gid` and it was stored at `gseq` (the group does
   * not push a post back to the device that sent it): the position moves
   * past it when nothing lies between, so the next push needs no sync.
   */
  posted(gid: string, gseq: number, prev: number): void {
    const g = this.#stream(gid);
    if (gseq > g.last && prev <= g.last) this.#moveGroup(gid, gseq);
  }

  /** Stops the pending ack (the client is closed). */
  stop(): void {
    stopTimer(this.#ackTimer);
    this.#ackTimer = undefined;
  }

  #liveGroup(e: GroupStreamEvent): void {
    const gid = groupOf(e);
    if (gid === undefined) return;
    const g = this.#stream(gid);
    if (e.gseq <= g.last) return; // already delivered
    if (e.prev <= g.last) return this.#deliverGroup(gid, e);
    g.resync = true;
    void this.#catchUpGroup(gid);
  }

  /** Applies a sync page; returns whether more remain on the server. */
  #apply(page: SyncResult): boolean {
    if (page.gap && page.gap.to > this.#lastSeq) {
      this.events.emit("gap", page.gap);
      this.#lastSeq = page.gap.to;
    }
    for (const e of page.events) if (e.seq === this.#lastSeq + 1) this.#deliver(e);
    return page.more || page.head > this.#lastSeq;
  }

  /**
   * Applies a page of one group; returns whether more remain. A page is an
   * unbroken run of this device's stream from where the server started it
   * (at least after what this device acknowledged, or what its inbox held
   * from before groups were stored once), so each event above the position
   * is delivered, in order. A page that ends the stream (`more: false`)
   * holds every event up to `head` this device may see, so the position
   * moves to `head`.
   */
  #applyGroup(page: GroupPage): boolean {
    const g = this.#stream(page.gid);
    if (page.gap && page.gap.to > g.last) {
      this.events.emit("gap", { ...page.gap, gid: page.gid });
      g.last = page.gap.to;
    }
    for (const e of page.events) if (e.gseq > g.last) this.#deliverGroup(page.gid, e);
    if (page.more) return true;
    if (page.head > g.last) this.#moveGroup(page.gid, page.head);
    return false;
  }

  async #catchUp(): Promise<void> {
    if (this.#syncing) return;
    this.#syncing = true;
    try {
      for (;;) {
        this.#resync = false;
        const page = await this.sync(this.#lastSeq, SYNC_PAGE);
        const before = this.#lastSeq;
        const more = this.#apply(page);
        if (!this.#resync && (!more || this.#lastSeq === before)) return;
      }
    } catch (err) {
      // The next connection's catchup resumes from lastSeq.
      if (err instanceof ImError && err.code !== "closed") this.events.emit("error", err);
    } finally {
      this.#syncing = false;
    }
  }

  async #catchUpGroup(gid: string): Promise<void> {
    const g = this.#stream(gid);
    if (g.syncing) return;
    g.syncing = true;
    try {
      for (;;) {
        g.resync = false;
        const before = g.last;
        const more = this.#applyGroup(await this.syncGroup(gid, g.last, SYNC_PAGE));
        if (!g.resync && (!more || g.last === before)) return;
      }
    } catch (err) {
      // The next connection's group_catchup resumes from the acked position.
      if (err instanceof ImError && err.code !== "closed") this.events.emit("error", err);
    } finally {
      g.syncing = false;
    }
  }

  #stream(gid: string): Stream {
    let g = this.#groups.get(gid);
    if (!g) this.#groups.set(gid, (g = { last: 0, syncing: false, resync: false }));
    return g;
  }

  #deliver(e: InboxEvent): void {
    this.#lastSeq = e.seq;
    this.#save(e.seq);
    this.#emit(e);
  }

  #deliverGroup(gid: string, e: GroupStreamEvent): void {
    this.#moveGroup(gid, e.gseq);
    this.#emit(e);
  }

  #emit(e: InboxEvent | GroupStreamEvent): void {
    this.events.emit("event", e);
    this.events.emit(e.type, e as never);
    this.#scheduleAck();
  }

  #moveGroup(gid: string, gseq: number): void {
    this.#stream(gid).last = gseq;
    this.#unacked.add(gid);
    this.#persist(() => this.store.saveGroup?.(gid, gseq));
    this.#scheduleAck();
  }

  #save(seq: number): void {
    this.#persist(() => this.store.save(seq));
  }

  #persist(write: () => void | Promise<void>): void {
    Promise.resolve()
      .then(write)
      .catch((err: unknown) => this.events.emit("error", new ImError("internal", `the seq store failed to save: ${String(err)}`, true)));
  }

  /** Tells the server, at most twice a second, how far this device has received. */
  #scheduleAck(): void {
    if (this.#ackTimer) return;
    this.#ackTimer = setTimeout(() => {
      this.#ackTimer = undefined;
      const ack: Ack = {};
      if (this.#lastSeq > this.#ackedSeq) ack.seq = this.#lastSeq;
      const groups = [...this.#unacked].slice(0, ACK_GROUPS_MAX);
      if (groups.length > 0) ack.groups = Object.fromEntries(groups.map((gid) => [gid, this.#stream(gid).last]));
      if ((ack.seq !== undefined || ack.groups !== undefined) && this.sendAck(ack)) {
        if (ack.seq !== undefined) this.#ackedSeq = ack.seq;
        for (const gid of groups) this.#unacked.delete(gid);
        if (this.#unacked.size > 0) this.#scheduleAck();
      }
    }, ACK_EVERY_MS);
  }
}
