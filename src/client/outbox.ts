import type { ClientRequestOf, ReplyFrame, ReplyOf } from "../protocol";
import { ImError } from "./errors";

interface Item {
  cmid: string;
  frame: ClientRequestOf<"send">;
  resolve: (ack: ReplyOf<"send">) => void;
  reject: (err: ImError) => void;
  timer: ReturnType<typeof setTimeout>;
  /** Request id of the attempt on the wire, if any. */
  inFlight: string | null;
  /** Not before this time (after a retryable refusal). */
  retryAt: number;
  attempts: number;
}

/**
 * The bounded queue of messages being sent. A message keeps its `cmid` for
 * every attempt, so the server stores it once however often it is resent
 * (after a reconnect, or a retryable error); it leaves the queue when the
 * server acks it, refuses it for good, or its deadline passes.
 */
export class Outbox {
  readonly #items: Item[] = [];

  constructor(
    private readonly max: number,
    private readonly timeoutMs: number,
    private readonly retryMs: (attempt: number) => number
  ) {}

  get size(): number {
    return this.#items.length;
  }

  /** Queues a send frame; rejects at once when the queue is full. */
  add(cmid: string, frame: ClientRequestOf<"send">): Promise<ReplyOf<"send">> {
    if (this.#items.length >= this.max) {
      return Promise.reject(new ImError("queue_full", `the send queue holds at most ${this.max} messages`, true));
    }
    return new Promise<ReplyOf<"send">>((resolve, reject) => {
      const item: Item = {
        cmid,
        frame,
        resolve,
        reject,
        inFlight: null,
        retryAt: 0,
        attempts: 0,
        timer: setTimeout(() => {
          this.#remove(item);
          reject(new ImError("timeout", `message ${cmid} was not acknowledged within ${this.timeoutMs} ms; resend it with the same cmid`, true));
        }, this.timeoutMs)
      };
      this.#items.push(item);
    });
  }

  /**
   * Messages to put on the wire now, oldest first; each gets request id
   * `idOf(item)`. Behind a message waiting to retry, later messages to the
   * same conversation wait too, so they are stored in the order sent.
   */
  take(now: number, idOf: () => string): { id: string; frame: ClientRequestOf<"send"> & { id: string } }[] {
    const out = [];
    const held = new Set<string>();
    for (const item of this.#items) {
      const conversation = `${String(item.frame.chat)}:${String(item.frame.to)}`;
      if (item.inFlight === null && item.retryAt > now) held.add(conversation);
      if (item.inFlight !== null || item.retryAt > now || held.has(conversation)) continue;
      item.inFlight = idOf();
      item.attempts++;
      out.push({ id: item.inFlight, frame: { ...item.frame, id: item.inFlight } });
    }
    return out;
  }

  /** Earliest time a waiting retry is due, if any. */
  nextRetry(): number | undefined {
    const times = this.#items.filter((i) => i.inFlight === null && i.retryAt > 0).map((i) => i.retryAt);
    return times.length > 0 ? Math.min(...times) : undefined;
  }

  /** Applies a reply; false if it answered none of our sends. */
  settle(reply: ReplyFrame, now: number): boolean {
    const item = this.#items.find((i) => i.inFlight !== null && i.inFlight === reply.id);
    if (!item) return false;
    if (reply.ok) {
      this.#remove(item);
      // Trusted as REPLY_SCHEMAS types it: the SDK does not parse replies.
      item.resolve(reply.result as ReplyOf<"send">);
    } else if (reply.error.retryable) {
      item.inFlight = null;
      item.retryAt = now + Math.max(reply.error.retryAfterMs ?? 0, this.retryMs(item.attempts));
    } else {
      this.#remove(item);
      item.reject(ImError.from(reply.error));
    }
    return true;
  }

  /** The connection dropped: every attempt on the wire is resent on the next one. */
  lost(): void {
    for (const item of this.#items) item.inFlight = null;
  }

  /** Rejects everything (the client was closed for good). */
  clear(err: ImError): void {
    for (const item of [...this.#items]) {
      this.#remove(item);
      item.reject(err);
    }
  }

  #remove(item: Item): void {
    clearTimeout(item.timer as Parameters<typeof clearTimeout>[0]);
    const i = this.#items.indexOf(item);
    if (i >= 0) this.#items.splice(i, 1);
  }
}
