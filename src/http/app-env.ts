import { Hono } from "hono";

/** Hono environment shared by every route. */
export interface AppEnv {
  Bindings: Env;
  /** Set by the API-key check: which of the listed keys the request used (a digest prefix, never the key). */
  Variables: { apiKeyId: string };
}

/** A Hono app (or sub-app) typed with our bindings. */
export function newApp() {
  return new Hono<AppEnv>();
}
