import type { Context } from "hono";
import { and, eq, lt } from "drizzle-orm";
import { createDb } from "../db/client";
import { idempotencyKeys } from "../db/schema";
import { ProtocolError } from "../protocol";
import type { AppEnv } from "./app-env";

/** How long an answer is replayed for its key. */
const KEY_TTL_MS = 24 * 3600 * 1000;

const hex = (b: ArrayBuffer) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, "0")).join("");

async function sha256(s: string): Promise<string> {
  return hex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s)));
}

/**
 * Runs a push at most once per `Idempotency-Key` (as Stripe does): the first
 * answer is stored in D1 and replayed for 24 hours with
 * `Idempotent-Replayed: true`; the same key with a different request is a
 * `conflict`, and so is a repeat while the first is still running. The push
 * id handed to `run` derives from the key, so even an attempt whose answer was
 * never stored delivers nothing twice: recipients dedupe by event id.
 */
export async function idempotent(
  c: Context<AppEnv>,
  request: unknown,
  run: (pushId: string) => Promise<{ status: 200 | 201; body: unknown }>
): Promise<Response> {
  const key = c.req.header("Idempotency-Key");
  if (key === undefined) return respond(c, await run(crypto.randomUUID().replaceAll("-", "")), false);
  if (key.length === 0 || key.length > 128) {
    throw new ProtocolError("bad_request", "Idempotency-Key must be 1-128 characters", { "Idempotency-Key": "invalid" });
  }
  const scope = `${c.req.method} ${new URL(c.req.url).pathname}`;
  const requestHash = await sha256(`${scope}\n${JSON.stringify(request)}`);
  const pushId = (await sha256(`idem:${key}`)).slice(0, 32);
  const db = createDb(c.env.DB);
  const now = Date.now();
  const claimed = await db
    .insert(idempotencyKeys)
    .values({ key, requestHash, status: 0, response: null, createdAt: now })
    .onConflictDoNothing()
    .returning({ key: idempotencyKeys.key });
  if (claimed.length === 0) {
    const row = await db.select().from(idempotencyKeys).where(eq(idempotencyKeys.key, key)).get();
    if (row && row.createdAt < now - KEY_TTL_MS) {
      await db.delete(idempotencyKeys).where(and(eq(idempotencyKeys.key, key), lt(idempotencyKeys.createdAt, now - KEY_TTL_MS)));
      return idempotent(c, request, run);
    }
    if (!row || row.requestHash !== requestHash) {
      throw new ProtocolError("conflict", "this Idempotency-Key was used for a different request");
    }
    if (row.status === 0) throw new ProtocolError("conflict", "a request with this Idempotency-Key is still running");
    return respond(c, { status: row.status as 200 | 201, body: JSON.parse(row.response!) }, true);
  }
  try {
    const out = await run(pushId);
    await db
      .update(idempotencyKeys)
      .set({ status: out.status, response: JSON.stringify(out.body) })
      .where(eq(idempotencyKeys.key, key));
    // Opportunistic cleanup keeps the table to about a day of keys.
    await db.delete(idempotencyKeys).where(lt(idempotencyKeys.createdAt, now - KEY_TTL_MS));
    return respond(c, out, false);
  } catch (err) {
    // Nothing answered: let a retry run again (it reuses the same push id).
    await db.delete(idempotencyKeys).where(eq(idempotencyKeys.key, key));
    throw err;
  }
}

function respond(c: Context<AppEnv>, out: { status: 200 | 201; body: unknown }, replayed: boolean): Response {
  if (replayed) c.header("Idempotent-Replayed", "true");
  return c.json(out.body as object, out.status);
}
