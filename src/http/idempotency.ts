import type { Context } from "hono";
import { and, eq, lt } from "drizzle-orm";
import { createDb } from "../db/client";
import { idempotencyKeys } from "../db/schema";
import { ERRORS, ProtocolError } from "../protocol";
import type { AppEnv } from "./app-env";

/** How long an answer is replayed for its key. */
const KEY_TTL_MS = 24 * 3600 * 1000;

const hex = (b: ArrayBuffer) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, "0")).join("");

async function sha256(s: string): Promise<string> {
  return hex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s)));
}

/** A claim older than this with no answer belongs to a request that died: a retry takes it over. */
const STALE_CLAIM_MS = 60_000;

/**
 * Runs a push at most once per `Idempotency-Key` (as Stripe does): the first
 * answer is stored in D1 and replayed for 24 hours with
 * `Idempotent-Replayed: true`; the same key with a different request is a
 * `conflict`, and so is a repeat while the first is still running (for a
 * minute: after that the first is presumed dead and the repeat takes over).
 * The push id is drawn when the key is claimed and kept with it, so a retry
 * of a push that died half-way reuses it and recipients dedupe what they
 * already have, while a key reused after expiry gets a new one.
 */
export async function idempotent(
  c: Context<AppEnv>,
  request: unknown,
  run: (pushId: string) => Promise<{ status: 200 | 201; body: unknown }>
): Promise<Response> {
  const key = c.req.header("Idempotency-Key");
  if (key === undefined) return respond(c, await run(newPushId()), false);
  if (key.length === 0 || key.length > 128) {
    throw new ProtocolError("bad_request", "Idempotency-Key must be 1-128 characters", { "Idempotency-Key": "invalid" });
  }
  const scope = `${c.req.method} ${new URL(c.req.url).pathname}`;
  const requestHash = await sha256(`${scope}\n${JSON.stringify(request)}`);
  const db = createDb(c.env.DB);
  const now = Date.now();
  await db.delete(idempotencyKeys).where(and(eq(idempotencyKeys.key, key), lt(idempotencyKeys.createdAt, now - KEY_TTL_MS)));
  const pushId = newPushId();
  const claimed = await db
    .insert(idempotencyKeys)
    .values({ key, requestHash, pushId, status: 0, response: null, createdAt: now })
    .onConflictDoNothing()
    .returning({ pushId: idempotencyKeys.pushId });
  let mine = claimed[0]?.pushId;
  if (mine === undefined) {
    const row = await db.select().from(idempotencyKeys).where(eq(idempotencyKeys.key, key)).get();
    if (!row || row.requestHash !== requestHash) {
      throw new ProtocolError("conflict", "this Idempotency-Key was used for a different request");
    }
    if (row.status !== 0) return respond(c, { status: row.status as 200 | 201, body: JSON.parse(row.response!) }, true);
    const taken = await db
      .update(idempotencyKeys)
      .set({ createdAt: now })
      .where(and(eq(idempotencyKeys.key, key), eq(idempotencyKeys.status, 0), lt(idempotencyKeys.createdAt, now - STALE_CLAIM_MS)))
      .returning({ pushId: idempotencyKeys.pushId });
    if (taken.length === 0) throw new ProtocolError("conflict", "a request with this Idempotency-Key is still running");
    mine = taken[0]!.pushId;
  }
  try {
    const out = await run(mine);
    await db
      .update(idempotencyKeys)
      .set({ status: out.status, response: JSON.stringify(out.body) })
      .where(eq(idempotencyKeys.key, key));
    // Opportunistic cleanup keeps the table to about a day of keys.
    await db.delete(idempotencyKeys).where(lt(idempotencyKeys.createdAt, now - KEY_TTL_MS));
    return respond(c, out, false);
  } catch (err) {
    // A refusal (404, 413, ...) pushed nothing: forget the key. Anything else
    // may have pushed to some recipients: leave the claim stale, so a retry
    // takes it over at once with the same push id and nothing arrives twice.
    if (err instanceof ProtocolError && !ERRORS[err.code].retryable) {
      await db.delete(idempotencyKeys).where(eq(idempotencyKeys.key, key));
    } else {
      await db.update(idempotencyKeys).set({ createdAt: now - STALE_CLAIM_MS - 1 }).where(eq(idempotencyKeys.key, key));
    }
    throw err;
  }
}

function newPushId(): string {
  return crypto.randomUUID().replaceAll("-", "");
}

function respond(c: Context<AppEnv>, out: { status: 200 | 201; body: unknown }, replayed: boolean): Response {
  if (replayed) c.header("Idempotent-Replayed", "true");
  return c.json(out.body as object, out.status);
}
