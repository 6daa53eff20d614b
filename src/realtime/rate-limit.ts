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
