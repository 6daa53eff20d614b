export interface BackoffOptions {
  /** First delay, ms (default 500). */
  minMs?: number;
  /** Largest delay, ms (default 30 000). */
  maxMs?: number;
  /** Growth per attempt (default 2). */
  factor?: number;
}

/**
 * "Equal jitter" exponential backoff: half the exponential delay, plus a
 * random part up to the other half, so a crowd of clients dropped at once
 * (a deploy) spreads out instead of reconnecting in lockstep.
 */
export function backoffDelay(attempt: number, o: BackoffOptions = {}, random = Math.random): number {
  const min = o.minMs ?? 500;
  const max = o.maxMs ?? 30_000;
  const base = Math.min(max, min * (o.factor ?? 2) ** Math.max(0, attempt));
  return Math.round(base / 2 + random() * (base / 2));
}
