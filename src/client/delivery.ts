import type { InboxEvent, SyncResult } from "../protocol";
import type { ClientEvents } from "./connection";
import type { Emitter } from "./emitter";
import { ImError } from "./errors";
import type { SeqStore } from "./store";
import { stopTimer } from "./wire";

/** Page size of the syncs that fill a hole. */
const SYNC_PAGE = 200;
/** How often, at most, the device's position is acked to the server. */
const ACK_EVERY_MS = 500;

/**
 * Hands a device's durable events to the app exactly once and in seq order.
 * Live pushes and sync pages both come through here; a hole in the seqs is
 * filled with `sync` from the last one delivered. The position is saved to
 * the {@link SeqStore} and acked to the server at most twice a second.
 */
export class InOrderDelivery {
  #lastSeq = 0;
  #ackedSeq = 0;
  #loaded = false;
  #syncing = false;
  /** A live event showed a hole while a sync was running: sync once more. */
  #resync = false;
  #ackTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly store: SeqStore,
    private readonly events: Emitter<ClientEvents>,
    /** Asks the server for the page after `after`. */
    private readonly sync: (after: number, limit: number) => Promise<SyncResult>,
    /** Sends an ack frame; false when there is no open socket. */
    private readonly sendAck: (seq: number) => boolean
  ) {}

  /** The seq of the last event delivered to the app. */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** Reads the saved position, once. */
  async load(): Promise<void> {
    if (this.#loaded) return;
    this.#lastSeq = this.#ackedSeq = await this.store.load();
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

  /** A pushed event. */
  live(e: InboxEvent): void {
    if (e.seq <= this.#lastSeq) return; // already delivered (a sync page overlapped the push)
    if (e.seq === this.#lastSeq + 1) return this.#deliver(e);
    // A hole: fetch everything after lastSeq, this event included (again, if a sync is already running).
    this.#resync = true;
    void this.#catchUp();
  }

  /** Stops the pending ack (the client is closed). */
  stop(): void {
    stopTimer(this.#ackTimer);
    this.#ackTimer = undefined;
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

  #deliver(e: InboxEvent): void {
    this.#lastSeq = e.seq;
    this.#save(e.seq);
    this.events.emit("event", e);
    this.events.emit(e.type, e as never);
    this.#scheduleAck();
  }

  #save(seq: number): void {
    Promise.resolve()
      .then(() => this.store.save(seq))
      .catch((err: unknown) => this.events.emit("error", new ImError("internal", `the seq store failed to save: ${String(err)}`, true)));
  }

  /** Tells the server, at most twice a second, how far this device has received. */
  #scheduleAck(): void {
    if (this.#ackTimer) return;
    this.#ackTimer = setTimeout(() => {
      this.#ackTimer = undefined;
      if (this.#lastSeq > this.#ackedSeq && this.sendAck(this.#lastSeq)) this.#ackedSeq = this.#lastSeq;
    }, ACK_EVERY_MS);
  }
}
