import { Hono } from "hono";

/** Hono environment shared by every route. */
export interface AppEnv {
  Bindings: Env;
}

/** A Hono app (or sub-app) typed with our bindings. */
export function newApp() {
  return new Hono<AppEnv>();
}
