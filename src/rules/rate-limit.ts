import { ProtocolError } from "../protocol";

/**
 * A token bucket: `burst` tokens, refilled at `ratePerSecond`. In memory:
 * an object that is evicted starts full again, which only ever errs on the
 * side of letting a user send.
 */
export class TokenBucket {
  #tokens: number;
  #at: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    now = Date.now()
  ) {
    this.#tokens = burst;
    this.#at = now;
  }

  /** Takes a token; returns 0 when granted, else the ms until one is available. */
  take(now = Date.now()): number {
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#at) / 1000) * this.ratePerSecond);
    this.#at = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.#tokens) / this.ratePerSecond) * 1000);
  }

  /** Gives back a token taken for something that turned out not to need one. */
  refund(): void {
    this.#tokens = Math.min(this.burst, this.#tokens + 1);
  }
}

/**
 * Spends one token of the user's budget on an action that stores events for
 * other users (an edit, a reaction, a group change); `rate_limited` with the
 * wait when it is spent. Without it a client could append to a peer's or a
 * group's inboxes as fast as it can write frames, and the count-based
 * retention would then drop the peer's older messages.
 */
export function charge(bucket: TokenBucket, what: string): void {
  const wait = bucket.take();
  if (wait > 0) throw new ProtocolError("rate_limited", `${what} too fast; retry in ${wait} ms`, undefined, wait);
}
