import { describe, expect, it } from "vitest";
import type { HistoryRow } from "../../src/store/group-history";
import type { HistoryEvent } from "../../src/protocol";
import { chainOf, mayView, planExtras, planLive, streamFor } from "../../src/realtime/group-stream";
import { type LiveRun } from "../../src/rpc/delivery";
import { type Span } from "../../src/store/group-state";

const msg = (gseq: number, from: string, extra: Partial<HistoryEvent> = {}): HistoryRow => ({
  event: {
    type: "message", mid: `M${gseq}`, chat: "group", from, to: "g", kind: "text", body: gseq, ts: 0, gseq,
    cmid: `c${gseq}`, device: "d1", ...extra
  } as HistoryEvent,
  extra: [],
  except: [],
  skip: {}
});
const sys = (gseq: number, action: "kicked" | "joined" | "invited", target: string, extra: string[] = []): HistoryRow => ({
  event: { type: "group", eid: `E${gseq}`, gid: "g", gseq, action, actor: "a", target, ts: 0 },
  extra,
  except: [],
  skip: {}
});
const member = (from = 0): Span[] => [{ from, to: Number.MAX_SAFE_INTEGER }];
const on = (uid: string, spans = member()) => ({ uid, spans });
const chain = (events: { gseq: number; prev: number }[]) => events.map((e) => [e.prev, e.gseq]);
/** The frames a member's runs carry, in order, each with the devices its run skips. */
const frames = (runs: readonly LiveRun[] | undefined) =>
  (runs ?? []).flatMap((r) => r.text.split("\n").map((l) => ({ ...JSON.parse(l), ...(r.skipDevices ? { skipDevices: r.skipDevices } : {}) })));

describe("planLive", () => {
  it("gives each online member every event it may see in one call, in gseq order, chained by prev from the batch start", () => {
    const rows = [msg(4, "a"), msg(5, "b"), msg(6, "a")];
    const plan = planLive([on("a"), on("b"), on("c")], rows, 3);
    expect(plan.map(([uid, runs]) => [uid, chain(chainOf(runs))])).toEqual([
      ["a", [[3, 4], [4, 5], [5, 6]]],
      ["b", [[3, 4], [4, 5], [5, 6]]],
      ["c", [[3, 4], [4, 5], [5, 6]]]
    ]);
  });

  it("shares one array among members with nothing of their own", () => {
    const plan = Object.fromEntries(planLive([on("a"), on("b"), on("c")], [msg(1, "a")], 0));
    expect(plan.b).toBe(plan.c);
    expect(plan.a).not.toBe(plan.b);
  });

  it("keeps cmid and device on the sender's own copies only, and never pushes them to the sending device", () => {
    const plan = Object.fromEntries(planLive([on("a"), on("b")], [msg(1, "a")], 0));
    expect(frames(plan.a)[0]).toMatchObject({ cmid: "c1", device: "d1", gseq: 1, prev: 0, skipDevices: ["d1"] });
    expect(frames(plan.b)[0]).not.toHaveProperty("cmid");
    expect(frames(plan.b)[0]).not.toHaveProperty("device");
    expect(frames(plan.b)[0]).not.toHaveProperty("skipDevices");
  });

  it("respects memberships: a late joiner misses earlier events, a kicked member sees up to the kick, and prev skips what they may not see", () => {
    const rows = [msg(5, "a"), sys(6, "kicked", "z"), msg(7, "a")];
    const plan = Object.fromEntries(planLive([on("a"), on("late", member(6)), on("z", [{ from: 0, to: 6 }])], rows, 4).map(([u, r]) => [u, chain(chainOf(r))]));
    expect(plan).toEqual({ a: [[4, 5], [5, 6], [6, 7]], late: [[4, 7]], z: [[4, 5], [5, 6]] });
  });

  it("hands each member runs encoded as the socket message a device receives, with membership changes readable beside them", () => {
    const plan = Object.fromEntries(planLive([on("a"), on("z", [{ from: 0, to: 6 }])], [msg(5, "a"), sys(6, "kicked", "z")], 4));
    expect(plan.z).toHaveLength(1);
    expect(plan.z![0]).toMatchObject({ prev: 4, gseqs: [5, 6], groups: [{ gseq: 6, action: "kicked", target: "z" }] });
    expect(frames(plan.z)).toEqual([
      expect.objectContaining({ type: "message", mid: "M5", gseq: 5, prev: 4, body: 5 }),
      { type: "group", eid: "E6", gid: "g", gseq: 6, prev: 5, action: "kicked", actor: "a", target: "z", ts: 0 }
    ]);
  });

  it("splits a sender's copies into runs where the devices to skip change", () => {
    const plan = Object.fromEntries(planLive([on("a"), on("b")], [msg(1, "b"), msg(2, "a"), msg(3, "a"), msg(4, "b")], 0));
    expect(plan.a!.map((r) => [r.prev, r.gseqs, r.skipDevices])).toEqual([[0, [1], undefined], [1, [2, 3], ["d1"]], [3, [4], undefined]]);
    expect(plan.b!.map((r) => [r.prev, r.gseqs, r.skipDevices])).toEqual([[0, [1], ["d1"]], [1, [2, 3], undefined], [3, [4], ["d1"]]]);
  });

  it("flags mentioned copies, and every copy for @all", () => {
    const rows = [msg(1, "a", { mentions: { users: ["b"] } }), msg(2, "a", { mentions: { all: true } })];
    const plan = Object.fromEntries(planLive([on("a"), on("b"), on("c")], rows, 0));
    expect(frames(plan.b).map((e) => "mentioned" in e)).toEqual([true, true]);
    expect(frames(plan.c).map((e) => "mentioned" in e)).toEqual([false, true]);
    expect(frames(plan.a).map((e) => "mentioned" in e)).toEqual([false, false]);
  });

  it("leaves out excepted members and marks the devices a copy must not be pushed to", () => {
    const row: HistoryRow = { ...msg(1, "a"), except: ["b"], skip: { c: ["phone"] } };
    const plan = Object.fromEntries(planLive([on("b"), on("c"), on("d")], [row], 0));
    expect(plan.b).toBeUndefined();
    expect(frames(plan.c)[0]).toMatchObject({ skipDevices: ["phone"] });
    expect(frames(plan.d)[0]).not.toHaveProperty("skipDevices");
  });

  it("sends an update only to members who could see the message it changes, but a recall to all", () => {
    const update = (gseq: number, op: "react" | "recall", mgseq: number): HistoryRow => ({
      event: { type: "update", eid: `U${gseq}`, op, chat: "group", from: "a", to: "g", mid: `M${mgseq}`, ts: 0, gseq, mgseq } as HistoryEvent,
      extra: [], except: [], skip: {}
    });
    const plan = Object.fromEntries(planLive([on("old"), on("late", member(3))], [update(4, "react", 2), update(5, "recall", 2)], 3).map(([u, r]) => [u, chain(chainOf(r))]));
    expect(plan).toEqual({ old: [[3, 4], [4, 5]], late: [[3, 5]] });
  });
});

describe("a member's stream", () => {
  it("pages what a member may see with prev chained over what they may not", () => {
    const rows = [msg(1, "a"), { ...msg(2, "a"), except: ["b"] }, msg(3, "a")];
    expect(chain(streamFor("b", member(), rows, 0))).toEqual([[0, 1], [1, 3]]);
    expect(mayView("b", member(), rows[1]!)).toBe(false);
    expect(mayView("x", [], rows[0]!)).toBe(false);
  });

  it("stores in the inbox only what a row names someone for besides its members", () => {
    const rows = [msg(1, "a"), sys(2, "invited", "x", ["x"]), msg(3, "a")];
    expect([...planExtras(rows)].map(([u, e]) => [u, e.map((x) => x.gseq)])).toEqual([["x", [2]]]);
  });
});
