import type { Context } from "hono";
import { limitsOf } from "../lib/config";
import { ProtocolError } from "../protocol";
import type { AppEnv } from "./app-env";

/** A pushed body is delivered as one frame: it must fit the frame limit. */
export function assertFits(env: Env, body: unknown): void {
  const max = limitsOf(env).maxFrameBytes;
  if (new TextEncoder().encode(JSON.stringify(body)).byteLength > max - 512) {
    throw new ProtocolError("frame_too_large", `a pushed body is limited to ${max - 512} bytes`);
  }
}

/**
 * The backend's push budget (Workers rate limiting: per location, approximate
 * by design), sized for a backend that relays chat through pushes: per API
 * key `PUSH_KEY_LIMITER` (per call), per target (a user `u:…`, a group
 * `g:…`) `PUSH_LIMITER`, and pushes to everyone (`all`, each reaching every
 * user online) `PUSH_ALL_LIMITER`, all set in wrangler.toml's
 * `[[ratelimits]]`. Replays of an idempotent request do not spend it.
 */
export async function spendPush(c: Context<AppEnv>, targets: readonly string[]): Promise<void> {
  const key = await c.env.PUSH_KEY_LIMITER.limit({ key: c.get("apiKeyId") });
  if (!key.success) throw new ProtocolError("rate_limited", "too many pushes with this API key; retry in a few seconds", undefined, 10_000);
  const spent = await Promise.all(targets.map((t) => (t === "all" ? c.env.PUSH_ALL_LIMITER : c.env.PUSH_LIMITER).limit({ key: t })));
  const over = targets.find((_, i) => !spent[i]!.success);
  if (over !== undefined) throw new ProtocolError("rate_limited", `too many pushes to ${over}; retry in a few seconds`, undefined, 10_000);
}
