import { z } from "zod";
import { exceedsBytes } from "./codec";
import { type ErrorBody, errorBody, fieldErrors } from "./errors";
import { groupIdSchema, joinPolicySchema } from "./groups";
import { userIdSchema } from "./primitives";

/**
 * The seed's (GatewayWorker `Events.php`) wire protocol, spoken on
 * `GET /ws/compat`. Clients in the field send these frames unchanged; the
 * server answers in the seed's shapes. Protocol v1 is the native one; this
 * module only describes the seed's frames.
 */

/** A seed id (a MySQL integer, or a string) as one of our ids of `schema`'s kind. */
const seedIdOf = <T extends z.ZodType<string, string>>(schema: T) =>
  z.union([z.string(), z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)]).transform(String).pipe(schema);

/** Seed uids are MySQL integers or strings; either way they name one of our user ids. */
export const seedIdSchema = seedIdOf(userIdSchema);

/** A seed group id (`guid`), integer or string, naming one of our groups. */
export const seedGroupIdSchema = seedIdOf(groupIdSchema);

/** `isGroup` arrives as 0/1, "0"/"1" or a boolean; absent means private. */
const isGroupSchema = z
  .union([z.literal(0), z.literal(1), z.literal("0"), z.literal("1"), z.boolean()])
  .transform((v) => v === 1 || v === "1" || v === true)
  .default(false);

/**
 * One client frame. `fromUid` must be the token's user; `toUid` names a user
 * (or a group when `isGroup` is 1, or for the group frames); `type` is one of
 * {@link COMPAT_COMMANDS} or, otherwise, the message's kind; any other fields
 * are the message's content and travel unchanged. `kickUid` names the member
 * `kick_group` removes (the seed's frame names none).
 */
export const compatFrameSchema = z.looseObject({
  fromUid: seedIdSchema,
  // Field clients send every field on every frame, often empty: a `toUid`,
  // `isGroup` or `kickUid` that is not usable reads as absent, and frames
  // that need it say so.
  toUid: seedIdSchema.optional().catch(undefined),
  isGroup: isGroupSchema.catch(false),
  type: z.string().min(1).max(32),
  kickUid: seedIdSchema.optional().catch(undefined)
});
export type CompatFrame = z.infer<typeof compatFrameSchema>;

/** Frame types the seed handles itself; every other type is a message. */
export const COMPAT_COMMANDS = [
  "pull",
  "online",
  "heart",
  "create_group",
  "join_group",
  "dismiss_group",
  "leave_group",
  "kick_group"
] as const;
export type CompatCommand = (typeof COMPAT_COMMANDS)[number];

export function isCompatCommand(type: string): type is CompatCommand {
  return (COMPAT_COMMANDS as readonly string[]).includes(type);
}

/**
 * Message kinds no one may send, in either protocol: a compat client would
 * take such a message for a frame from the server (a forged `pull` list).
 */
export const SEED_RESERVED_KINDS: ReadonlySet<string> = new Set(["pull", "online", "heart", "stranger", "error"]);

/**
 * Whether a message body is a seed frame (a compat client's message, or a v1
 * client writing the seed's shape): then compat clients get it as that JSON.
 */
export function isSeedFrame(body: unknown, kind: string): body is Record<string, unknown> {
  return (
    typeof body === "object" && body !== null && !Array.isArray(body) &&
    (body as Record<string, unknown>).type === kind && "fromUid" in body && "toUid" in body
  );
}

/** Server frames, exactly as the seed sends them (plus `error`, which the seed never needed). */
export type CompatServerFrame =
  | { id: unknown; type: "stranger" }
  | { message: string[]; type: "pull" }
  | { list: (string | number)[]; type: "online" }
  | { type: "heart"; group: Record<string, null> | []; client: string }
  | { type: "error"; id: unknown; error: ErrorBody };

/**
 * A uid as the seed's clients see it: PHP's `array_keys` turns numeric uids
 * into integers, so ids that are canonical decimal integers go out as numbers.
 */
export function seedUid(uid: string): string | number {
  return /^(0|[1-9][0-9]{0,14})$/.test(uid) ? Number(uid) : uid;
}

/** A decoded seed frame: the validated view and the client's JSON object as sent. */
export type CompatDecoded =
  | { ok: true; frame: CompatFrame; raw: Record<string, unknown> }
  | { ok: false; id: unknown; error: ErrorBody };

/** Size limit, JSON, then the seed frame's schema. Never throws. */
export function decodeCompatFrame(raw: string | ArrayBuffer, maxBytes: number): CompatDecoded {
  if (typeof raw !== "string") return { ok: false, id: null, error: errorBody("binary_not_supported", "send JSON text frames") };
  if (exceedsBytes(raw, maxBytes)) {
    return { ok: false, id: null, error: errorBody("frame_too_large", `frames are limited to ${maxBytes} bytes`) };
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, id: null, error: errorBody("invalid_json", "frame is not valid JSON") };
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return { ok: false, id: null, error: errorBody("invalid_frame", "frame must be a JSON object") };
  }
  const obj = json as Record<string, unknown>;
  const id = obj.id ?? null;
  const parsed = compatFrameSchema.safeParse(obj);
  if (!parsed.success) {
    return { ok: false, id, error: errorBody("invalid_frame", "frame does not match the seed's frame", fieldErrors(parsed.error.issues)) };
  }
  return { ok: true, frame: parsed.data, raw: obj };
}

/** Rows per table in one import call (D1 and the Worker's subrequest budget stay bounded). */
export const SEED_IMPORT_MAX_ROWS = 500;

/**
 * How an imported `oh_ai_friend (uid, frienduid)` row counts: `both` makes
 * the pair friends both ways; `as-is` stores only that row (uid lists
 * frienduid), so frienduid may message uid and not the other way round,
 * as the seed's `sendMsg` checks (the recipient lists the sender).
 */
export const friendshipImportSchema = z.enum(["both", "as-is"]);
export type FriendshipImport = z.infer<typeof friendshipImportSchema>;

/**
 * `POST /api/v1/import/seed`: rows of the seed's MySQL tables, as exported.
 * Ids may be numbers or strings. `oh_ai_group.owner` picks the owner (the
 * seed has none); absent, the group's first member in this call owns it.
 */
export const seedImportBodySchema = z.object({
  users: z.array(z.object({ id: seedIdSchema, name: z.string().min(1).max(128).optional() })).max(SEED_IMPORT_MAX_ROWS).default([]),
  oh_ai_friend: z.array(z.looseObject({ uid: seedIdSchema, frienduid: seedIdSchema })).max(SEED_IMPORT_MAX_ROWS).default([]),
  oh_ai_group: z
    .array(z.looseObject({ guid: seedIdSchema, name: z.string().min(1).max(128).optional(), owner: seedIdSchema.optional() }))
    .max(100)
    .default([]),
  oh_ai_groupfriend: z.array(z.looseObject({ uid: seedIdSchema, friendguid: seedIdSchema })).max(SEED_IMPORT_MAX_ROWS).default([]),
  /**
   * Join policy of the groups this call creates. The seed lets anyone join
   * any group by id (its ids are sequential), so the default is `invite`;
   * pass `open` if your clients rely on `join_group` for existing groups.
   */
  groupJoinPolicy: joinPolicySchema.default("invite"),
  /** How this call's `oh_ai_friend` rows count; absent, the `FRIENDSHIP_IMPORT` setting (default `both`). */
  friendshipImport: friendshipImportSchema.optional()
});
export type SeedImportBody = z.infer<typeof seedImportBodySchema>;

const countsSchema = z.object({ created: z.number().int(), existing: z.number().int() });

/** What an import did; `skipped` rows name what they lacked. Running it again changes nothing. */
export const seedImportResultSchema = z.object({
  users: countsSchema,
  friendships: countsSchema,
  groups: countsSchema,
  members: countsSchema,
  skipped: z.array(z.object({ table: z.string(), row: z.number().int(), reason: z.string() }))
});
export type SeedImportResult = z.infer<typeof seedImportResultSchema>;
