import { z } from "zod";
import { errorBodySchema } from "./server-frames";
import { userIdSchema } from "./primitives";

/** Longest token lifetime `POST /api/v1/tokens` will mint: 30 days. */
export const TOKEN_TTL_MAX_SECONDS = 30 * 24 * 3600;

/** `POST /api/v1/tokens`: mint a connection token for `uid`. */
export const mintTokenBodySchema = z.object({
  uid: userIdSchema,
  ttlSeconds: z.number().int().min(60).max(TOKEN_TTL_MAX_SECONDS).optional()
});
export type MintTokenBody = z.infer<typeof mintTokenBodySchema>;

export const tokenResponseSchema = z.object({
  token: z.string(),
  /** Unix seconds, the token's `exp`. */
  expiresAt: z.number().int()
});
export type TokenResponse = z.infer<typeof tokenResponseSchema>;

/** `POST /api/v1/users`. */
export const createUserBodySchema = z.object({
  id: userIdSchema,
  name: z.string().min(1).max(128).optional()
});
export type CreateUserBody = z.infer<typeof createUserBodySchema>;

export const userSchema = z.object({
  id: userIdSchema,
  name: z.string().nullable(),
  createdAt: z.number().int()
});
export type User = z.infer<typeof userSchema>;

/** `POST /api/v1/friendships`: make `a` and `b` friends (mutual). */
export const createFriendshipBodySchema = z
  .object({ a: userIdSchema, b: userIdSchema })
  .refine((v) => v.a !== v.b, { message: "a user cannot befriend themselves", path: ["b"] });
export type CreateFriendshipBody = z.infer<typeof createFriendshipBodySchema>;

export const friendshipSchema = z.object({
  a: userIdSchema,
  b: userIdSchema,
  created: z.boolean()
});

/** Every HTTP error body. */
export const httpErrorSchema = z.object({ error: errorBodySchema });
export type HttpError = z.infer<typeof httpErrorSchema>;
