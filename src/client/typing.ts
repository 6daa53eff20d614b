import type { TypingEvent } from "../protocol";
import { stopTimer } from "./wire";

/**
 * Who is typing where: a start the server does not renew or stop is followed
 * by a synthetic stop (`active: false`) at its `expiresAt`, so apps need no
 * timers of their own.
 */
export class TypingExpiry {
  readonly #timers = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(private readonly emit: (t: TypingEvent) => void) {}

  /** Emits `t`, replacing the expiry of an earlier signal from the same typist in the same conversation. */
  seen(t: TypingEvent): void {
    const key = `${t.chat}:${t.from}:${t.to}`;
    stopTimer(this.#timers.get(key));
    this.#timers.delete(key);
    if (t.active) {
      const expire = () => {
        this.#timers.delete(key);
        this.emit({ ...t, active: false, ts: t.expiresAt });
      };
      this.#timers.set(key, setTimeout(expire, Math.max(0, t.expiresAt - Date.now())));
    }
    this.emit(t);
  }

  clear(): void {
    for (const t of this.#timers.values()) stopTimer(t);
    this.#timers.clear();
  }
}
