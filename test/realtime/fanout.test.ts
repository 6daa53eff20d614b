import { describe, expect, it } from "vitest";
import type { HistoryRow } from "../../src/objects/group-history";
import type { Window } from "../../src/objects/group-state";
import type { HistoryEvent } from "../../src/protocol";
import { planDeliveries } from "../../src/realtime/fanout";

const msg = (gseq: number, from: string, extra: Partial<HistoryEvent> = {}): HistoryRow => ({
  event: {
    type: "message", mid: `M${gseq}`, chat: "group", from, to: "g", kind: "text", body: gseq, ts: 0, gseq,
    cmid: `c${gseq}`, device: "d1", ...extra
  } as HistoryEvent,
  extra: [],
  except: [],
  skip: {}
});
const sys = (gseq: number, action: "kicked" | "joined", target: string, extra: string[] = []): HistoryRow => ({
  event: { type: "group", eid: `E${gseq}`, gid: "g", gseq, action, actor: "a", target, ts: 0 },
  extra,
  except: [],
  skip: {}
});
const active = (uid: string, from = 0): Window => ({ uid, from, to: Infinity });
const gseqOf = (e: unknown) => (e as { gseq: number }).gseq;

describe("planDeliveries", () => {
  it("gives each recipient every event it is owed in one call, in gseq order", () => {
    const rows = [msg(1, "a"), msg(2, "b"), msg(3, "a")];
    const plan = planDeliveries([active("a"), active("b"), active("c")], rows);
    expect(plan.map(([uid, evs]) => [uid, evs.map(gseqOf)])).toEqual([
      ["a", [1, 2, 3]],
      ["b", [1, 2, 3]],
      ["c", [1, 2, 3]]
    ]);
  });

  it("keeps cmid and device on the sender's own copies only", () => {
    const [[, a], [, b]] = planDeliveries([active("a"), active("b")], [msg(1, "a")]) as [[string, object[]], [string, object[]]];
    expect(a![0]).toMatchObject({ cmid: "c1", device: "d1" });
    expect(b![0]).not.toHaveProperty("cmid");
    expect(b![0]).not.toHaveProperty("device");
  });

  it("respects windows: late joiners miss earlier events, departed members get what they were owed", () => {
    const rows = [msg(5, "a"), sys(6, "kicked", "z", ["z"]), msg(7, "a")];
    const plan = Object.fromEntries(
      planDeliveries([active("a"), active("late", 6), { uid: "z", from: 0, to: 5 }], rows).map(([u, e]) => [u, e.map(gseqOf)])
    );
    expect(plan).toEqual({ a: [5, 6, 7], late: [7], z: [5, 6] });
  });

  it("flags mentioned copies, and every copy for @all", () => {
    const rows = [msg(1, "a", { mentions: { users: ["b"] } }), msg(2, "a", { mentions: { all: true } })];
    const plan = Object.fromEntries(planDeliveries([active("a"), active("b"), active("c")], rows));
    expect(plan.b!.map((e) => "mentioned" in e)).toEqual([true, true]);
    expect(plan.c!.map((e) => "mentioned" in e)).toEqual([false, true]);
    expect(plan.a!.map((e) => "mentioned" in e)).toEqual([false, false]);
  });

  it("restricts a plan to one user for retries", () => {
    const plan = planDeliveries([active("a"), active("b")], [msg(1, "a"), sys(2, "kicked", "x", ["x"])], "x");
    expect(plan.map(([u, e]) => [u, e.map(gseqOf)])).toEqual([["x", [2]]]);
  });

  it("leaves out excepted members and marks the devices a copy must not be pushed to", () => {
    const row: HistoryRow = { ...msg(1, "a"), except: ["b"], skip: { c: ["phone"] } };
    const plan = Object.fromEntries(planDeliveries([active("a"), active("b"), active("c")], [row]));
    expect(plan.b).toBeUndefined();
    expect(plan.c![0]).toMatchObject({ skipDevices: ["phone"] });
    expect(plan.a![0]).not.toHaveProperty("skipDevices");
  });
});
