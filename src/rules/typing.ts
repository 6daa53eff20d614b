/** A conversation's typing signal is relayed at most once per this many ms. */
export const TYPING_RELAY_MS = 2_000;
/** Receivers drop a typing signal this long after it was sent unless renewed. */
export const TYPING_TTL_MS = 6_000;

/**
 * Per-user typing throttle (in memory: losing it to hibernation only lets
 * one more signal through). A start is relayed if no signal (start or stop)
 * was relayed in the last {@link TYPING_RELAY_MS} for that conversation; a
 * stop only right after a live start (receivers show nothing otherwise). So
 * a conversation relays at most two signals per {@link TYPING_RELAY_MS}.
 */
export class TypingGate {
  readonly #last = new Map<string, { at: number; active: boolean }>();

  allow(conv: string, active: boolean, now: number): boolean {
    const last = this.#last.get(conv);
    const recent = last !== undefined && now - last.at < TYPING_RELAY_MS;
    const live = last !== undefined && last.active && now - last.at < TYPING_TTL_MS;
    if (active ? recent : !live) return false;
    if (this.#last.size > 256) this.#prune(now);
    this.#last.set(conv, { at: now, active });
    return true;
  }

  #prune(now: number): void {
    for (const [k, v] of this.#last) if (now - v.at >= TYPING_TTL_MS) this.#last.delete(k);
  }
}
