import { limitsOf } from "../../lib/config";
import { countSchema, onlinePageSchema, onlineQuerySchema, ProtocolError } from "../../protocol";
import { newApp } from "../app-env";
import { op } from "../openapi";
import { valid } from "../validate";
import { presenceStub } from "../../rpc/stubs";

const tag = "presence";
const listOp = op({
  method: "get", path: "/api/v1/online", tag, gateway: "getAllUidList",
  summary: "Online users, paged shard by shard (pass `next` as `after`)",
  query: onlineQuerySchema, ok: { status: 200, description: "a page of online user ids", schema: onlinePageSchema }
});
op({
  method: "get", path: "/api/v1/online/count", tag, gateway: "getAllUidCount",
  summary: "How many users are online (one call per registry shard, in parallel)",
  ok: { status: 200, description: "count", schema: countSchema }
});

/** Cursor `<shard>:<last uid>`; shards are walked in order, uids in order within one. */
function parseCursor(after: string | undefined, shards: number): { shard: number; uid: string } {
  if (!after) return { shard: 0, uid: "" };
  const m = /^(\d+):(.*)$/.exec(after);
  if (!m || Number(m[1]) >= shards) throw new ProtocolError("bad_request", "invalid cursor", { after: "use the `next` of the previous page" });
  return { shard: Number(m[1]), uid: m[2]! };
}

export const online = newApp()
  .get("/", valid("query", listOp.query), async (c) => {
    const { after, limit } = c.req.valid("query");
    const shards = limitsOf(c.env).presenceShards;
    let { shard, uid } = parseCursor(after, shards);
    const uids: string[] = [];
    while (shard < shards && uids.length < limit) {
      const page = await presenceStub(c.env, shard).list(uid, limit - uids.length);
      uids.push(...page);
      if (uids.length < limit) {
        shard++;
        uid = "";
      } else {
        uid = page.at(-1)!;
      }
    }
    return c.json({ uids, next: shard < shards ? `${shard}:${uid}` : null });
  })
  .get("/count", async (c) => {
    const shards = limitsOf(c.env).presenceShards;
    const counts = await Promise.all(Array.from({ length: shards }, (_, s) => presenceStub(c.env, s).count()));
    return c.json({ count: counts.reduce((a, b) => a + b, 0) });
  });
