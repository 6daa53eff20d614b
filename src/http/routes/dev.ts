import { z } from "zod";
import { limitsOf } from "../../lib/config";
import { createDb } from "../../db/client";
import { importFriendships, importUsers } from "../../db/seed-import";
import { mintToken, tokenKeys } from "../../lib/tokens";
import { ProtocolError } from "../../protocol";
import { groupStub, userStub } from "../../rpc/stubs";
import { newApp } from "../app-env";
import { valid } from "../validate";

/** The demo's world: four friends and one group they all belong to. */
export const DEMO_USERS = ["alice", "bob", "carol", "dave"] as const;
export const DEMO_GROUP = "g_demo";

const loginSchema = z.object({ uid: z.enum(DEMO_USERS) });

/**
 * `POST /dev/login {uid}`: signs in as a demo user for the page at `/`,
 * creating the demo world on first use. Exists only when `DEV_MODE` is
 * "true" (`npm run dev` sets it; `wrangler.toml` does not): anywhere else it
 * is a 404, so no deployment mints tokens without the API key.
 */
export const devRoutes = newApp()
  .use(async (c, next) => {
    if ((c.env as unknown as { DEV_MODE?: string }).DEV_MODE !== "true") {
      throw new ProtocolError("not_found", `no route ${c.req.method} ${new URL(c.req.url).pathname}`);
    }
    await next();
  })
  .post("/login", valid("json", loginSchema), async (c) => {
    const { uid } = c.req.valid("json");
    const db = createDb(c.env.DB);
    await importUsers(db, DEMO_USERS.map((id) => ({ id, name: id[0]!.toUpperCase() + id.slice(1) })));
    if ((await importFriendships(db, DEMO_USERS.flatMap((a, i) => DEMO_USERS.slice(i + 1).map((b): [string, string] => [a, b])))) > 0) {
      await Promise.all(DEMO_USERS.map((u) => userStub(c.env, u).invalidateFriends()));
    }
    const created = await groupStub(c.env, DEMO_GROUP).create("alice", {
      name: "Demo group",
      members: [...DEMO_USERS],
      joinPolicy: "open"
    });
    if (!created.ok && created.error.code !== "conflict") throw new ProtocolError(created.error.code, created.error.message);
    const token = await mintToken(tokenKeys(c.env), uid, limitsOf(c.env).tokenTtlSeconds);
    return c.json({ ...token, uid, friends: DEMO_USERS.filter((u) => u !== uid), groups: [{ id: DEMO_GROUP, name: "Demo group" }] });
  });
