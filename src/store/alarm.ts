import { countAlarm } from "../lib/meter";

/**
 * Keeps one Durable Object alarm at the earliest time anyone asked for,
 * touching storage only when that time moves earlier. Calls are serialized,
 * so two concurrent requests can never leave the later time in place.
 */
export class AlarmScheduler {
  /** undefined = not read yet; null = no alarm set. */
  #at: number | null | undefined;
  #chain: Promise<void> = Promise.resolve();

  constructor(private readonly storage: DurableObjectStorage) {}

  /** Makes sure the alarm fires no later than `at`. */
  ensure(at: number): Promise<void> {
    // The common case on a hot path: already set early enough, nothing to queue.
    if (typeof this.#at === "number" && this.#at <= at) return this.#chain;
    this.#chain = this.#chain
      .then(async () => {
        if (this.#at === undefined) this.#at = await this.storage.getAlarm();
        if (this.#at !== null && this.#at <= at) return;
        await this.storage.setAlarm(at);
        countAlarm();
        this.#at = at;
      })
      .catch((err) => {
        // Unknown state: read it again next time rather than trust the cache.
        this.#at = undefined;
        console.error("setAlarm failed", err);
      });
    return this.#chain;
  }

  /** Forget the cached time (after the storage, alarm included, was erased). */
  reset(): void {
    this.#at = undefined;
  }

  /** Call first thing in `alarm()`: the alarm that is running is used up. */
  fired(): void {
    this.#at = null;
  }
}
