import { createDb } from "../../db/client";
import { getUser } from "../../db/users";
import { limitsOf } from "../../config";
import { mintToken } from "../../lib/tokens";
import { mintTokenBodySchema, ProtocolError } from "../../protocol";
import { newApp } from "../app-env";
import { valid } from "../validate";

/** `POST /api/v1/tokens {uid, ttlSeconds?}` → `{token, expiresAt}` for an existing user. */
export const tokens = newApp().post("/", valid("json", mintTokenBodySchema), async (c) => {
  const { uid, ttlSeconds } = c.req.valid("json");
  if (!(await getUser(createDb(c.env.DB), uid))) {
    throw new ProtocolError("unknown_user", `no user ${uid}`);
  }
  const ttl = ttlSeconds ?? limitsOf(c.env).tokenTtlSeconds;
  return c.json(await mintToken(c.env.JWT_SECRET, uid, ttl), 201);
});
