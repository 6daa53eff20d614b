import { createMiddleware } from "hono/factory";
import { ProtocolError } from "../protocol";
import type { AppEnv } from "./app-env";

const encoder = new TextEncoder();

async function digest(s: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest("SHA-256", encoder.encode(s));
}

/** The listed keys' digests, per API_KEY value (computed once per isolate, not per request). */
let listed: { source: string; keys: Promise<{ id: string; digest: ArrayBuffer }[]> } | undefined;

function listedKeys(source: string) {
  if (listed?.source !== source) {
    const keys = source.split(",").map((k) => k.trim()).filter(Boolean);
    listed = {
      source,
      keys: Promise.all(keys.map(async (k) => {
        const d = await digest(k);
        return { id: [...new Uint8Array(d, 0, 8)].map((b) => b.toString(16).padStart(2, "0")).join(""), digest: d };
      }))
    };
  }
  return listed.keys;
}

/**
 * `Authorization: Bearer <key>` against API_KEY, which may list several
 * comma-separated keys so one can be rotated in before the other goes.
 * Compared as SHA-256 digests with timingSafeEqual: constant time in the
 * key's content and length.
 */
export const requireApiKey = createMiddleware<AppEnv>(async (c, next) => {
  const header = c.req.header("Authorization") ?? "";
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw new ProtocolError("unauthorized", "missing Authorization: Bearer <API key>");
  const given = await digest(match[1]!);
  let id: string | undefined;
  for (const key of await listedKeys(c.env.API_KEY ?? "")) {
    if (crypto.subtle.timingSafeEqual(given, key.digest)) id = key.id;
  }
  if (id === undefined) throw new ProtocolError("unauthorized", "invalid API key");
  c.set("apiKeyId", id);
  await next();
});
