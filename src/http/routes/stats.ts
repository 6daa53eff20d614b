import { limitsOf } from "../../lib/config";
import { unwrap } from "../../lib/result";
import { readCosts } from "../../lib/meter";
import { costsSchema, deploymentStatsSchema, groupPathSchema, groupStatsSchema, metricsQuerySchema, userIdSchema, userStatsSchema } from "../../protocol";
import { groupStub, presenceStub, userStub } from "../../rpc/stubs";
import { z } from "zod";
import { newApp } from "../app-env";
import { requireUser } from "../lookups";
import { op } from "../openapi";
import { valid } from "../validate";

const tag = "operations";
op({
  method: "get", path: "/api/v1/stats", tag, summary: "Online users, connections and queued sendToAll deliveries, summed over the registry shards",
  ok: { status: 200, description: "deployment counters", schema: deploymentStatsSchema }
});
const userOp = op({
  method: "get", path: "/api/v1/users/{uid}/stats", tag, summary: "One user's counters: connections, inbox head, retained events, deliveries pending",
  params: z.object({ uid: userIdSchema }), ok: { status: 200, description: "user counters", schema: userStatsSchema }, errors: ["unknown_user"]
});
const groupOp = op({
  method: "get", path: "/api/v1/groups/{gid}/stats", tag, summary: "One group's counters: members, head, fan-out cursor and what it still owes, members being retried",
  params: groupPathSchema, ok: { status: 200, description: "group counters", schema: groupStatsSchema }, errors: ["unknown_group"]
});

const metricsOp = op({
  method: "get", path: "/api/v1/metrics", tag,
  summary: "Cost counters of the isolate that answers (SQLite rows, KV, alarms, object calls, D1 statements): under wrangler dev, the whole deployment; the bench reads them",
  query: metricsQuerySchema, ok: { status: 200, description: "cost counters", schema: costsSchema }
});

/** Counters for operators. Message rates come from the structured `send`/`deliver` logs. */
export const statsRoutes = newApp()
  .get("/stats", async (c) => {
    const shards = limitsOf(c.env).presenceShards;
    const all = await Promise.all(Array.from({ length: shards }, (_, i) => presenceStub(c.env, i).stats()));
    return c.json({
      onlineUsers: all.reduce((n, s) => n + s.users, 0),
      connections: all.reduce((n, s) => n + s.connections, 0),
      messages: all.reduce((n, s) => n + s.messages, 0),
      broadcastsPending: all.reduce((n, s) => n + s.broadcastsPending, 0),
      shards
    });
  })
  .get("/metrics", valid("query", metricsOp.query), (c) => c.json(readCosts(c.req.valid("query").reset === "1")))
  .get("/users/:uid/stats", valid("param", userOp.params), async (c) => {
    const { uid } = c.req.valid("param");
    await requireUser(c.env, uid);
    return c.json(await userStub(c.env, uid).stats());
  })
  .get("/groups/:gid/stats", valid("param", groupOp.params), async (c) =>
    c.json(unwrap(await groupStub(c.env, c.req.valid("param").gid).stats()))
  );
