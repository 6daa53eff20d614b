import type { BenchClient, ReplyFrame } from "./client.ts";
import { bump, type CodeCounts } from "./util.ts";

/** Outcome counters of a batch of sends (shared by all senders of a case). */
export interface SendStats {
  acked: number;
  failed: number;
  retries: number;
  errors: CodeCounts;
}

export const newSendStats = (): SendStats => ({ acked: 0, failed: 0, retries: 0, errors: {} });

const MAX_RETRIES = 5;

/**
 * Sends one frame and settles once: acked, or failed after a non-retryable
 * error / MAX_RETRIES retries. A retry resends the same frame (same cmid),
 * as the protocol's client rules ask. Error codes are counted per attempt.
 */
export function sendOne(c: BenchClient, frame: Record<string, unknown>, stats: SendStats, done: (ok: boolean) => void): void {
  let tries = 0;
  const attempt = () => {
    if (!c.open) {
      bump(stats.errors, "socket_closed");
      stats.failed++;
      queueMicrotask(() => done(false));
      return;
    }
    c.request(frame, (r: ReplyFrame) => {
      if (r.ok) {
        stats.acked++;
        return done(true);
      }
      const code = r.error?.code ?? "unknown";
      bump(stats.errors, code);
      if (r.error?.retryable && code !== "closed" && tries++ < MAX_RETRIES) {
        stats.retries++;
        setTimeout(attempt, 20 * tries);
        return;
      }
      stats.failed++;
      done(false);
    });
  };
  attempt();
}

/**
 * Sends up to `n` frames from `c` keeping at most `window` unsettled, issuing
 * none after `until` (a performance.now() deadline); resolves with how many
 * were issued once all of them settled.
 */
export function sendWindowed(
  c: BenchClient,
  n: number,
  window: number,
  frame: (k: number) => Record<string, unknown>,
  stats: SendStats,
  onAck?: (k: number) => void,
  until = Number.POSITIVE_INFINITY
): Promise<number> {
  return new Promise((resolve) => {
    let next = 0, settled = 0;
    const pump = () => {
      while (next < n && next - settled < window && performance.now() < until) {
        const k = next++;
        sendOne(c, frame(k), stats, (ok) => {
          if (ok) onAck?.(k);
          settled++;
          pump();
          if (settled === next && (next === n || performance.now() >= until)) resolve(next);
        });
      }
    };
    if (n === 0 || performance.now() >= until) return resolve(0);
    pump();
  });
}

/**
 * Open loop: sends `total` frames spread evenly over time at `rate`/s,
 * round-robin over `senders`; resolves when every send settled.
 */
export function sendAtRate(
  senders: readonly BenchClient[],
  total: number,
  rate: number,
  frame: (sender: number, k: number) => Record<string, unknown>,
  stats: SendStats,
  onAck?: (sender: number, k: number) => void
): Promise<void> {
  return new Promise((resolve) => {
    let sent = 0, settled = 0;
    const t0 = performance.now();
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) * rate) / 1000) + 1);
      while (sent < due) {
        const s = sent % senders.length;
        const k = Math.floor(sent / senders.length);
        sendOne(senders[s]!, frame(s, k), stats, (ok) => {
          if (ok) onAck?.(s, k);
          if (++settled === total) resolve();
        });
        sent++;
      }
      if (sent < total) setTimeout(tick, 1);
    };
    if (total === 0) resolve();
    else tick();
  });
}
