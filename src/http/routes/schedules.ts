import { z } from "zod";
import { unwrap } from "../../lib/result";
import { createScheduleBodySchema, type GroupInfo, ProtocolError, scheduleSchema } from "../../protocol";
import { groupStub, schedulerStub } from "../../rpc/stubs";
import { newApp } from "../app-env";
import { idempotent } from "../idempotency";
import { requireUsers } from "../lookups";
import { op } from "../openapi";
import { valid } from "../validate";

const tag = "schedules";
const idPath = z.object({ id: z.string().min(1).max(64) });
const createOp = op({
  method: "post", path: "/api/v1/schedules", tag,
  summary: "Schedule a push to users, a group or everyone online: once (`at`/`delaySeconds`) or every `everySeconds`",
  body: createScheduleBodySchema, idempotent: true,
  ok: { status: 201, description: "the schedule", schema: scheduleSchema },
  errors: ["unknown_user", "unknown_group", "group_dismissed", "conflict"]
});
op({
  method: "get", path: "/api/v1/schedules", tag, summary: "All schedules, soonest first",
  ok: { status: 200, description: "schedules", schema: z.object({ schedules: z.array(scheduleSchema) }) }
});
const getOp = op({
  method: "get", path: "/api/v1/schedules/{id}", tag, summary: "One schedule",
  params: idPath, ok: { status: 200, description: "the schedule", schema: scheduleSchema }, errors: ["not_found"]
});
const cancelOp = op({
  method: "delete", path: "/api/v1/schedules/{id}", tag, summary: "Cancel a schedule",
  params: idPath, ok: { status: 204, description: "cancelled" }, errors: ["not_found"]
});

const scheduler = schedulerStub;

export const schedules = newApp()
  .post("/", valid("json", createOp.body), async (c) => {
    const b = c.req.valid("json");
    if ("uids" in b.target) await requireUsers(c.env, b.target.uids);
    if ("gid" in b.target) {
      const info = unwrap(await groupStub(c.env, b.target.gid).command(null, { op: "info" })) as GroupInfo;
      if (info.dismissedAt !== null) throw new ProtocolError("group_dismissed", `group ${info.id} was dismissed`);
    }
    return idempotent(c, b, async () => ({ status: 201, body: await scheduler(c.env).create(b) }));
  })
  .get("/", async (c) => c.json({ schedules: await scheduler(c.env).list() }))
  .get("/:id", valid("param", getOp.params), async (c) => {
    const s = await scheduler(c.env).get(c.req.valid("param").id);
    if (!s) throw new ProtocolError("not_found", `no schedule ${c.req.valid("param").id}`);
    return c.json(s);
  })
  .delete("/:id", valid("param", cancelOp.params), async (c) => {
    if (!(await scheduler(c.env).cancel(c.req.valid("param").id))) {
      throw new ProtocolError("not_found", `no schedule ${c.req.valid("param").id}`);
    }
    return c.body(null, 204);
  });
