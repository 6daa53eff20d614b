import { limitsOf } from "../../lib/config";
import { mintToken, tokenKeys } from "../../lib/tokens";
import { mintTokenBodySchema, tokenResponseSchema } from "../../protocol";
import { newApp } from "../app-env";
import { requireUser } from "../lookups";
import { op } from "../openapi";
import { valid } from "../validate";

const mintOp = op({
  method: "post", path: "/api/v1/tokens", tag: "auth",
  summary: "Mint a connection token (HS256 JWT, sub = uid) for an existing user",
  body: mintTokenBodySchema, ok: { status: 201, description: "the token and its expiry (unix s)", schema: tokenResponseSchema },
  errors: ["unknown_user"]
});

export const tokens = newApp().post("/", valid("json", mintOp.body), async (c) => {
  const { uid, ttlSeconds } = c.req.valid("json");
  await requireUser(c.env, uid);
  const ttl = ttlSeconds ?? limitsOf(c.env).tokenTtlSeconds;
  return c.json(await mintToken(tokenKeys(c.env), uid, ttl), 201);
});
