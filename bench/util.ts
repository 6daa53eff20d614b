/** Small async helpers shared by the scenarios. */

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs `fn` over `items` with at most `limit` in flight; results keep input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Resolves when `cond()` holds (polled every `everyMs`) or `timeoutMs` passed; returns whether it held. */
export async function waitFor(cond: () => boolean, timeoutMs: number, everyMs = 5): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) return false;
    await sleep(everyMs);
  }
  return true;
}

/** Counts of error codes, e.g. `{unavailable: 3}`. */
export type CodeCounts = Record<string, number>;

export function bump(c: CodeCounts, code: string, by = 1): void {
  c[code] = (c[code] ?? 0) + by;
}

/**
 * Waits until `progress()` reaches `target`, giving up once it has not moved
 * for `idleMs` (or after `capMs` in all). Slow-but-moving delivery is waited
 * for; only a stall ends the wait early. Returns whether the target was reached.
 */
export async function waitProgress(progress: () => number, target: number, idleMs: number, capMs = 180_000): Promise<boolean> {
  const start = performance.now();
  let last = progress(), lastMove = start;
  while (progress() < target) {
    const now = performance.now();
    const p = progress();
    if (p !== last) {
      last = p;
      lastMove = now;
    }
    if (now - lastMove > idleMs || now - start > capMs) return false;
    await sleep(5);
  }
  return true;
}
