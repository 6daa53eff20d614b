import type { Context } from "hono";
import type { z } from "zod";
import { limitsOf } from "../../lib/config";
import { unwrap } from "../../lib/result";
import {
  clientIdOf,
  ERRORS,
  type ErrorCode,
  gatewayArgs,
  type GatewayArgs,
  type GatewayDelivery,
  gatewayJson,
  type GatewayMethod,
  gatewayNoticeKind,
  gatewayResults,
  ProtocolError,
  type SeedChat,
  seedChatOf,
  seedUid
} from "../../protocol";
import { onlineMembers } from "../../realtime/group-clients";
import { pushToAll, pushToUsers } from "../../realtime/push";
import { groupStub, presenceStub, userStub } from "../../rpc/stubs";
import type { AppEnv } from "../app-env";
import { newApp } from "../app-env";
import { idempotent } from "../idempotency";
import { existingUsers, requireUser } from "../lookups";
import { op } from "../openapi";
import { assertFits, spendPush } from "../push-limits";
import { valid } from "../validate";

type C = Context<AppEnv>;

/** Most uids `getAllUidList` returns (GatewayClient returns them all; page `GET /api/v1/online` past this). */
const ALL_UIDS_MAX = 10_000;

/**
 * Refusals of a relayed chat message that the seed's backend never had: it
 * pushed to anyone. The frame then goes as a push, as the seed's would have
 * (a block, a mute or a dismissed group still refuse it).
 */
const PUSH_INSTEAD = new Set<ErrorCode>(["stranger", "not_member"]);

const failed = (to: string, as: GatewayDelivery["as"], e: { code: string; message: string }): GatewayDelivery => ({ to: seedUid(to), as, error: { code: e.code, message: e.message } });

/**
 * A seed chat frame relayed as its sender: the message it made, undefined
 * when the gate refused it for a reason the seed's backend never had (the
 * caller pushes it instead), or the refusal. What is worth retrying (the
 * send budget, a target unreachable before anything was stored) fails the
 * request instead.
 */
async function relay(c: C, chat: "dm" | "group", to: string, seed: SeedChat, push: string): Promise<GatewayDelivery | undefined> {
  const r = await userStub(c.env, seed.from).relay({ chat, to, kind: seed.kind, body: seed.body, push, ...(seed.id !== undefined ? { id: seed.id } : {}) });
  if (r.ok) return { to: seedUid(to), as: "message", mid: r.value.mid };
  if (ERRORS[r.error.code].retryable) unwrap(r);
  if (PUSH_INSTEAD.has(r.error.code)) return undefined;
  return failed(to, "message", r.error);
}

/** The user's live connections; none for a uid with no account (GatewayClient answers 0 or nothing for those). */
async function statusOf(env: Env, uid: string) {
  if (!(await existingUsers(env, [uid])).has(uid)) return { uid, online: false, devices: [] };
  return userStub(env, uid).status();
}

async function clientsOf(env: Env, gid: string) {
  return unwrap(await groupStub(env, gid).onlineClients(0));
}

/** A membership change the GatewayClient makes silently when it is already so. */
async function quietly(env: Env, gid: string, cmd: { op: "add"; uid: string; role: "member" } | { op: "kick"; uid: string }, quiet: ErrorCode) {
  const r = await groupStub(env, gid).command(null, cmd);
  if (!r.ok && r.error.code !== quiet) unwrap(r);
}

/** The socket's user is the token's: binding a client to another uid is refused, binding it to its own is a no-op. */
function assertBound(client: { uid: string }, uid: string): void {
  if (client.uid !== uid) throw new ProtocolError("forbidden", `client belongs to ${client.uid}: a socket's user is its token's, not bound later`);
}

type Handler<M extends GatewayMethod> = (c: C, a: GatewayArgs<M>) => Promise<{ result: unknown; deliveries?: GatewayDelivery[] } | Response>;

const METHODS: { [M in GatewayMethod]: { summary: string; result: z.ZodType; errors?: ErrorCode[]; idempotent?: true; run: Handler<M> } } = {
  sendToUid: {
    summary: "Send to users: a seed chat frame (`fromUid` a user, `toUid` this uid) is stored as that user's message (v1 devices get a `message`, compat sockets the JSON unchanged); anything else, or a frame between non-friends, is a push",
    result: gatewayResults.send, errors: ["conflict"], idempotent: true,
    run: async (c, { uid, message }) => {
      const json = gatewayJson(message);
      assertFits(c.env, json);
      const targets = [...new Set(uid)];
      const chats = targets.map((to) => seedChatOf(json, "dm", to));
      const known = await existingUsers(c.env, [...targets, ...chats.flatMap((s) => (s ? [s.from] : []))]);
      return idempotent(c, { m: "sendToUid", targets, json }, async (pushId) => {
        await spendPush(c, targets.filter((t) => known.has(t)).map((t) => `u:${t}`));
        const deliveries: GatewayDelivery[] = [];
        const notices: string[] = [];
        for (const [i, to] of targets.entries()) {
          const seed = chats[i];
          const sent = !known.has(to) ? failed(to, "notice", { code: "unknown_user", message: `no user ${to}` })
            : seed && known.has(seed.from) ? await relay(c, "dm", to, seed, pushId) : undefined;
          if (sent) deliveries.push(sent);
          else notices.push(to);
        }
        if (notices.length > 0) {
          const pushed = await pushToUsers(c.env, pushId, notices, { kind: gatewayNoticeKind(json), body: json });
          for (const r of pushed.results) deliveries.push({ to: seedUid(r.uid), as: "notice", devices: r.devices });
        }
        return { status: 200, body: { result: null, deliveries } };
      });
    }
  },
  sendToGroup: {
    summary: "Send to groups: a seed chat frame from a member is stored as their group message (never echoed to them); anything else is a push to the members but the excluded clients",
    result: gatewayResults.send, errors: ["conflict"], idempotent: true,
    run: async (c, { group, message, exclude_client }) => {
      const json = gatewayJson(message);
      assertFits(c.env, json);
      const gids = [...new Set(group)];
      const chats = gids.map((gid) => seedChatOf(json, "group", gid));
      const known = await existingUsers(c.env, chats.flatMap((s) => (s ? [s.from] : [])));
      return idempotent(c, { m: "sendToGroup", gids, json, exclude_client }, async (pushId) => {
        await spendPush(c, gids.map((g) => `g:${g}`));
        const deliveries: GatewayDelivery[] = [];
        for (const [i, gid] of gids.entries()) {
          const seed = chats[i];
          const sent = seed && known.has(seed.from) ? await relay(c, "group", gid, seed, pushId) : undefined;
          if (sent) {
            deliveries.push(sent);
            continue;
          }
          // One group's refusal (unknown, dismissed) is its own: the others still get theirs, as the library's call would.
          const r = await groupStub(c.env, gid).notice(i === 0 ? pushId : `${pushId}-${i}`, { kind: gatewayNoticeKind(json), body: json }, [], exclude_client);
          if (!r.ok && ERRORS[r.error.code].retryable) unwrap(r);
          deliveries.push(r.ok ? { to: seedUid(gid), as: "notice" } : failed(gid, "notice", r.error));
        }
        return { status: 200, body: { result: null, deliveries } };
      });
    }
  },
  sendToAll: {
    summary: "Push to every user online now (a push, never a chat message)",
    result: gatewayResults.send, errors: ["conflict"], idempotent: true,
    run: async (c, { message }) => {
      const json = gatewayJson(message);
      assertFits(c.env, json);
      return idempotent(c, { m: "sendToAll", json }, async (pushId) => {
        await spendPush(c, ["all"]);
        await pushToAll(c.env, pushId, { kind: gatewayNoticeKind(json), body: json }, limitsOf(c.env).presenceShards);
        return { status: 200, body: { result: null, deliveries: [] } };
      });
    }
  },
  isUidOnline: {
    summary: "1 when the user has a socket open now, else 0 (asked of their own object)", result: gatewayResults.flag,
    run: async (c, { uid }) => ({ result: (await statusOf(c.env, uid)).online ? 1 : 0 })
  },
  isOnline: {
    summary: "1 when this client (`uid:device`) has a socket open now, else 0", result: gatewayResults.flag,
    run: async (c, { client_id }) => ({ result: (await statusOf(c.env, client_id.uid)).devices.some((d) => d.device === client_id.device) ? 1 : 0 })
  },
  getClientIdByUid: {
    summary: "The user's connected clients (`uid:device`)", result: gatewayResults.clients,
    run: async (c, { uid }) => ({ result: (await statusOf(c.env, uid)).devices.map((d) => clientIdOf(uid, d.device)) })
  },
  getUidByClientId: {
    summary: "The user of a connected client, or null when it is not connected", result: gatewayResults.uid,
    run: async (c, { client_id }) => {
      const s = await statusOf(c.env, client_id.uid);
      return { result: s.devices.some((d) => d.device === client_id.device) ? seedUid(client_id.uid) : null };
    }
  },
  getAllUidList: {
    summary: `Every user online now (at most ${ALL_UIDS_MAX}; page \`GET /api/v1/online\` for more)`, result: gatewayResults.uids,
    run: async (c) => {
      const shards = limitsOf(c.env).presenceShards;
      const uids: string[] = [];
      for (let s = 0; s < shards && uids.length < ALL_UIDS_MAX; s++) uids.push(...(await presenceStub(c.env, s).list("", ALL_UIDS_MAX - uids.length)));
      return { result: uids.map(seedUid) };
    }
  },
  getAllUidCount: {
    summary: "How many users are online now", result: gatewayResults.count,
    run: async (c) => {
      const shards = limitsOf(c.env).presenceShards;
      const counts = await Promise.all(Array.from({ length: shards }, (_, s) => presenceStub(c.env, s).count()));
      return { result: counts.reduce((a, b) => a + b, 0) };
    }
  },
  getUidListByGroup: {
    summary: "The group's members online now", result: gatewayResults.uids, errors: ["unknown_group"],
    run: async (c, { group }) => ({ result: (await onlineMembers(c.env, group)).map(seedUid) })
  },
  getUidCountByGroup: {
    summary: "How many of the group's members are online now", result: gatewayResults.count, errors: ["unknown_group"],
    run: async (c, { group }) => ({ result: (await onlineMembers(c.env, group)).length })
  },
  getClientIdListByGroup: {
    summary: "The connected clients of the group's online members", result: gatewayResults.clients, errors: ["unknown_group"],
    run: async (c, { group }) => ({ result: (await clientsOf(c.env, group)).map((x) => clientIdOf(x.uid, x.device)) })
  },
  getClientIdCountByGroup: {
    summary: "How many clients of the group's members are connected", result: gatewayResults.count, errors: ["unknown_group"],
    run: async (c, { group }) => ({ result: (await clientsOf(c.env, group)).length })
  },
  getClientSessionsByGroup: {
    summary: "The connected clients of the group's members, each with its session (null: sessions are not kept)", result: gatewayResults.sessions, errors: ["unknown_group"],
    run: async (c, { group }) => ({ result: Object.fromEntries((await clientsOf(c.env, group)).map((x) => [clientIdOf(x.uid, x.device), null])) })
  },
  closeClient: {
    summary: "Close one client's socket (close code 4501)", result: gatewayResults.none, errors: ["unknown_user"],
    run: async (c, { client_id, message }) => {
      await requireUser(c.env, client_id.uid);
      await userStub(c.env, client_id.uid).disconnect(client_id.device, message ?? "closed by the backend");
      return { result: null };
    }
  },
  joinGroup: {
    summary: "Make the client's user a member of the group (membership is the user's, not one socket's); a no-op for a member", result: gatewayResults.none,
    errors: ["unknown_group", "unknown_user", "group_dismissed", "group_full"],
    run: async (c, { client_id, group }) => {
      await quietly(c.env, group, { op: "add", uid: client_id.uid, role: "member" }, "already_member");
      return { result: null };
    }
  },
  leaveGroup: {
    summary: "Remove the client's user from the group; a no-op for a non-member", result: gatewayResults.none, errors: ["unknown_group", "forbidden"],
    run: async (c, { client_id, group }) => {
      await quietly(c.env, group, { op: "kick", uid: client_id.uid }, "not_member");
      return { result: null };
    }
  },
  ungroup: {
    summary: "Dismiss the group; every member is told", result: gatewayResults.none, errors: ["unknown_group"],
    run: async (c, { group }) => {
      unwrap(await groupStub(c.env, group).command(null, { op: "dismiss" }));
      return { result: null };
    }
  },
  bindUid: {
    summary: "A no-op for the client's own uid (a socket's user is its token's); another uid is `forbidden`", result: gatewayResults.none, errors: ["forbidden"],
    run: async (_c, { client_id, uid }) => {
      assertBound(client_id, uid);
      return { result: null };
    }
  },
  unbindUid: {
    summary: "A no-op for the client's own uid (close the client to end it); another uid is `forbidden`", result: gatewayResults.none, errors: ["forbidden"],
    run: async (_c, { client_id, uid }) => {
      assertBound(client_id, uid);
      return { result: null };
    }
  }
};

/**
 * `/api/v1/gateway/{method}`: the GatewayClient's calls with its argument
 * names, answering `{result}` with what the PHP library returns, so the
 * seed's backend only changes its register address (docs/gatewayclient/).
 */
export const gateway = newApp();
for (const method of Object.keys(METHODS) as GatewayMethod[]) {
  const m = METHODS[method] as (typeof METHODS)[GatewayMethod];
  const o = op({
    method: "post", path: `/api/v1/gateway/${method}`, tag: "gateway", gateway: method, summary: m.summary,
    body: gatewayArgs[method], ok: { status: 200, description: "`result`: what GatewayClient returns", schema: m.result },
    ...(m.idempotent ? { idempotent: true } : {}), ...(m.errors ? { errors: m.errors } : {})
  });
  gateway.post(`/${method}`, valid("json", o.body), async (c) => {
    const out = await (m.run as Handler<GatewayMethod>)(c, c.req.valid("json") as never);
    return out instanceof Response ? out : c.json(out);
  });
}
