import { type ErrorBody, ProtocolError } from "../protocol";

/**
 * Outcome of an RPC between our objects. Expected failures travel as values:
 * a thrown error crosses RPC without its stack or type, so throws are kept
 * for bugs.
 */
export type Result<T> = { ok: true; value: T } | { ok: false; error: ErrorBody };

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

/** Runs `fn`, turning a ProtocolError into a failed Result; other errors propagate. */
export async function attempt<T>(fn: () => T | Promise<T>): Promise<Result<T>> {
  try {
    return ok(await fn());
  } catch (err) {
    if (err instanceof ProtocolError) return { ok: false, error: err.toBody() };
    throw err;
  }
}

/** The value, or the error re-thrown as a ProtocolError on this side. */
export function unwrap<T>(r: Result<T>): T {
  if (r.ok) return r.value;
  throw new ProtocolError(r.error.code, r.error.message, r.error.fields, r.error.retryAfterMs);
}
