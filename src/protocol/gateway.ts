import { z } from "zod";
import { isSeedFrame, SEED_RESERVED_KINDS, seedGroupIdSchema, seedIdSchema } from "./compat";
import { deviceIdSchema, kindSchema, userIdSchema } from "./primitives";

/**
 * `POST /api/v1/gateway/{method}`: the GatewayClient's calls (`GatewayClient\Gateway::…`)
 * over HTTP, with the library's argument names as body fields, so the
 * seed's backend keeps its code and swaps the library (docs/gatewayclient/)
 * for one that posts here. Every answer is `{result}`, the value the PHP
 * library returns (lists where PHP returns `uid => uid` arrays).
 */

/**
 * A GatewayWorker `client_id`: here one device of one user, `uid:device`
 * (what `getClientIdByUid` and the seed's `heart` answer give out).
 */
export const clientIdSchema = z
  .string()
  .max(130)
  .transform((s, ctx) => {
    const i = s.indexOf(":");
    const uid = userIdSchema.safeParse(s.slice(0, i));
    const device = deviceIdSchema.safeParse(s.slice(i + 1));
    if (i < 0 || !uid.success || !device.success) {
      ctx.addIssue({ code: "custom", message: "a client id is uid:device, as getClientIdByUid gives it" });
      return z.NEVER;
    }
    return { uid: uid.data, device: device.data };
  });
export type ClientId = z.infer<typeof clientIdSchema>;

export function clientIdOf(uid: string, device: string): string {
  return `${uid}:${device}`;
}

const one = <T extends z.ZodType>(s: T) => z.union([s, z.array(s).min(1).max(400)]).transform((v) => (Array.isArray(v) ? v : [v]) as z.output<T>[]);
const optionalClients = z
  .union([clientIdSchema, z.array(clientIdSchema).max(400), z.null()])
  .optional()
  .transform((v) => (v == null ? [] : Array.isArray(v) ? v : [v]));

/**
 * What the library sends: usually the string `json_encode($message)` made;
 * an object is taken as that JSON. A JSON object naming a user as
 * `fromUid` and the target as `toUid`, with a `type`, is the seed's chat
 * message and is stored as a message from that user; anything else is a
 * backend push (a `notice`).
 */
export const gatewayMessageSchema = z.union([z.string().max(1 << 20), z.record(z.string(), z.json())]);

export const gatewayArgs = {
  sendToUid: z.object({ uid: one(seedIdSchema), message: gatewayMessageSchema }),
  sendToGroup: z.object({ group: one(seedGroupIdSchema), message: gatewayMessageSchema, exclude_client: optionalClients }),
  /** `client_id_array` and `exclude_client_id` must be null: a push to everyone online reaches everyone. */
  sendToAll: z.object({ message: gatewayMessageSchema, client_id_array: z.null().optional(), exclude_client_id: z.null().optional() }),
  isUidOnline: z.object({ uid: seedIdSchema }),
  isOnline: z.object({ client_id: clientIdSchema }),
  getClientIdByUid: z.object({ uid: seedIdSchema }),
  getUidByClientId: z.object({ client_id: clientIdSchema }),
  getAllUidList: z.object({}),
  getAllUidCount: z.object({}),
  getUidListByGroup: z.object({ group: seedGroupIdSchema }),
  getUidCountByGroup: z.object({ group: seedGroupIdSchema }),
  getClientIdListByGroup: z.object({ group: seedGroupIdSchema }),
  getClientIdCountByGroup: z.object({ group: seedGroupIdSchema }),
  getClientSessionsByGroup: z.object({ group: seedGroupIdSchema }),
  closeClient: z.object({ client_id: clientIdSchema, message: z.string().max(123).nullable().optional() }),
  joinGroup: z.object({ client_id: clientIdSchema, group: seedGroupIdSchema }),
  leaveGroup: z.object({ client_id: clientIdSchema, group: seedGroupIdSchema }),
  ungroup: z.object({ group: seedGroupIdSchema }),
  bindUid: z.object({ client_id: clientIdSchema, uid: seedIdSchema }),
  unbindUid: z.object({ client_id: clientIdSchema, uid: seedIdSchema })
} as const;
export type GatewayMethod = keyof typeof gatewayArgs;
export type GatewayArgs<M extends GatewayMethod> = z.output<(typeof gatewayArgs)[M]>;

const seedUidOut = z.union([z.string(), z.number()]);

/** How one send reached one target: a message stored (with its id) or a push, or why it was refused. */
export const gatewayDeliverySchema = z.object({
  to: seedUidOut,
  as: z.enum(["message", "notice"]),
  mid: z.string().optional(),
  /** Devices reached live (pushes to users only). */
  devices: z.number().int().optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional()
});
export type GatewayDelivery = z.infer<typeof gatewayDeliverySchema>;

export const gatewayResults = {
  send: z.object({ result: z.null(), deliveries: z.array(gatewayDeliverySchema) }),
  flag: z.object({ result: z.union([z.literal(0), z.literal(1)]) }),
  count: z.object({ result: z.number().int() }),
  uids: z.object({ result: z.array(seedUidOut) }),
  clients: z.object({ result: z.array(z.string()) }),
  uid: z.object({ result: seedUidOut.nullable() }),
  sessions: z.object({ result: z.record(z.string(), z.null()) }),
  none: z.object({ result: z.null() })
} as const;

/** The message as JSON: a string that parses is that JSON, any other string stays text. */
export function gatewayJson(m: string | Record<string, unknown>): unknown {
  if (typeof m !== "string") return m;
  try {
    return JSON.parse(m) as unknown;
  } catch {
    return m;
  }
}

/** A seed chat message as the backend relays it: sent as `from`, `body` the frame, `id` the seed's message id. */
export interface SeedChat {
  from: string;
  kind: string;
  body: Record<string, unknown>;
  id?: string | number;
}

/**
 * The seed chat message `json` is when sent to `to` (a user; a group when
 * `chat` is "group"): a frame of the seed's shape whose `toUid` is that
 * target, whose `isGroup` agrees, and whose `type` is a kind anyone may
 * send. Anything else is undefined: a backend push.
 */
export function seedChatOf(json: unknown, chat: "dm" | "group", to: string): SeedChat | undefined {
  if (typeof json !== "object" || json === null || Array.isArray(json)) return undefined;
  const f = json as Record<string, unknown>;
  const kind = f.type;
  if (typeof kind !== "string" || !kindSchema.safeParse(kind).success || SEED_RESERVED_KINDS.has(kind) || !isSeedFrame(f, kind)) return undefined;
  const group = f.isGroup === 1 || f.isGroup === "1" || f.isGroup === true;
  if (group !== (chat === "group")) return undefined;
  const from = seedIdSchema.safeParse(f.fromUid);
  const target = (chat === "group" ? seedGroupIdSchema : seedIdSchema).safeParse(f.toUid);
  if (!from.success || !target.success || target.data !== to || (chat === "dm" && from.data === to)) return undefined;
  const id = typeof f.id === "string" || typeof f.id === "number" ? f.id : undefined;
  return { from: from.data, kind, body: f, ...(id !== undefined ? { id } : {}) };
}

/** A push's kind: the message's `type` when that is a valid kind, else "notice". */
export function gatewayNoticeKind(json: unknown): string {
  const type = typeof json === "object" && json !== null ? (json as Record<string, unknown>).type : undefined;
  return typeof type === "string" && kindSchema.safeParse(type).success ? type : "notice";
}
