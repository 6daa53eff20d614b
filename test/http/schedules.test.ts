import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { InboxEvent, Schedule, SyncResult } from "../../src/protocol";
import { api, connect, createUser, expectJson } from "../helpers/fixtures";
import { makeGroup, streamOf } from "../helpers/groups";

const scheduler = () => env.SCHEDULER.getByName("schedules");

async function noticesOf(uid: string): Promise<InboxEvent[]> {
  const c = await connect(uid);
  const page = await c.ok<SyncResult>({ type: "sync", after: 0 });
  c.close();
  return page.events.filter((e) => e.type === "notice");
}

/** Makes schedule `id` due now, as time passing would. */
async function makeDue(id: string) {
  await runInDurableObject(scheduler(), (_o, s) => s.storage.sql.exec("UPDATE schedules SET next = ? WHERE id = ?", Date.now() - 1, id));
}

describe("scheduled pushes", () => {
  it("fires a one-time push to users from the alarm, then forgets it", async () => {
    const uid = await createUser();
    const c = await connect(uid);
    const s = await expectJson<Schedule>(
      await api("POST", "/api/v1/schedules", { target: { uids: [uid] }, kind: "reminder", body: "standup", delaySeconds: 3600 }),
      201
    );
    expect(s).toMatchObject({ target: { uids: [uid] }, everySeconds: null, remaining: 1, runs: 0 });
    expect(await expectJson(await api("GET", `/api/v1/schedules/${s.id}`), 200)).toEqual(s);
    await makeDue(s.id);
    expect(await runDurableObjectAlarm(scheduler())).toBe(true);
    expect(await c.next("notice")).toMatchObject({ kind: "reminder", body: "standup", eid: `n_${s.id}-1` });
    expect(await expectJson(await api("GET", `/api/v1/schedules/${s.id}`), 404)).toMatchObject({ error: { code: "not_found" } });
  });

  it("repeats on its interval for `times` runs, to a group", async () => {
    const owner = await createUser();
    const member = await createUser();
    const g = await makeGroup(await connect(owner), [member]);
    const s = await expectJson<Schedule>(
      await api("POST", "/api/v1/schedules", { target: { gid: g.id }, body: "tick", delaySeconds: 0, everySeconds: 60, times: 2 }),
      201
    );
    await makeDue(s.id);
    await runDurableObjectAlarm(scheduler());
    const after1 = await expectJson<Schedule>(await api("GET", `/api/v1/schedules/${s.id}`), 200);
    expect(after1).toMatchObject({ runs: 1, remaining: 1 });
    expect(after1.next).toBeGreaterThan(Date.now() + 50_000);
    await makeDue(s.id);
    await runDurableObjectAlarm(scheduler());
    expect((await api("GET", `/api/v1/schedules/${s.id}`)).status).toBe(404);
    // Stored once, in the group's history: the member reads them in their stream of it.
    const stream = await streamOf(member, g.id);
    expect(stream.filter((e) => e.type === "notice").map((n) => (n as { body: unknown }).body)).toEqual(["tick", "tick"]);
  });

  it("delivers a run at least once and never twice, even when its completion was lost", async () => {
    const uid = await createUser();
    const s = await expectJson<Schedule>(
      await api("POST", "/api/v1/schedules", { target: { uids: [uid] }, body: "once", delaySeconds: 0, everySeconds: 3600 }),
      201
    );
    await makeDue(s.id);
    await runDurableObjectAlarm(scheduler());
    // As if the object died after pushing but before recording the run.
    await runInDurableObject(scheduler(), (_o, st) =>
      st.storage.sql.exec("UPDATE schedules SET runs = 0, next = ? WHERE id = ?", Date.now() - 1, s.id)
    );
    await runDurableObjectAlarm(scheduler());
    expect(await noticesOf(uid)).toHaveLength(1);
  });

  it("lists and cancels schedules, and validates them", async () => {
    const uid = await createUser();
    const s = await expectJson<Schedule>(await api("POST", "/api/v1/schedules", { target: { all: true }, body: 1, at: Date.now() + 86_400_000 }), 201);
    const { schedules } = await expectJson<{ schedules: Schedule[] }>(await api("GET", "/api/v1/schedules"), 200);
    expect(schedules.map((x) => x.id)).toContain(s.id);
    expect((await api("DELETE", `/api/v1/schedules/${s.id}`)).status).toBe(204);
    expect((await api("DELETE", `/api/v1/schedules/${s.id}`)).status).toBe(404);
    const bad = [
      { target: { uids: [uid] }, body: 1 },
      { target: { uids: [uid] }, body: 1, at: Date.now(), delaySeconds: 5 },
      { target: { uids: [uid] }, body: 1, delaySeconds: 0, everySeconds: 5 },
      { target: {}, body: 1, delaySeconds: 0 }
    ];
    for (const b of bad) expect((await api("POST", "/api/v1/schedules", b)).status).toBe(400);
    expect(await expectJson(await api("POST", "/api/v1/schedules", { target: { uids: ["nobody_s"] }, body: 1, delaySeconds: 0 }), 404)).toMatchObject({
      error: { code: "unknown_user" }
    });
  });
});
