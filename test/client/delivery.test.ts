import { describe, expect, it } from "vitest";
import type { ClientEvents } from "../../src/client/events";
import { type Ack, InOrderDelivery } from "../../src/client/delivery";
import { Emitter } from "../../src/client/emitter";
import { MemoryStore } from "../../src/client/store";
import type { GroupPage, GroupStreamEvent } from "../../src/protocol";

const G = "g_t";
const ev = (gseq: number, prev: number): GroupStreamEvent =>
  ({ type: "message", mid: `M${gseq}`, chat: "group", from: "a", to: G, kind: "text", body: gseq, ts: 0, gseq, prev }) as GroupStreamEvent;
const page = (events: GroupStreamEvent[], more = false, head = events.at(-1)?.gseq ?? 0): GroupPage => ({ gid: G, events, more, head });

/** A delivery whose group syncs answer from `server` (a map of after → page), recording what reaches the app. */
function harness(server: (after: number) => GroupPage = () => page([])) {
  const events = new Emitter<ClientEvents>();
  const got: number[] = [];
  const syncs: number[] = [];
  const acks: Ack[] = [];
  events.on("event", (e) => got.push((e as GroupStreamEvent).gseq));
  const d = new InOrderDelivery(
    new MemoryStore(),
    events,
    async () => ({ events: [], more: false, head: 0 }),
    async (_gid, after) => {
      syncs.push(after);
      return server(after);
    },
    (ack) => {
      acks.push(ack);
      return true;
    }
  );
  return { d, got, syncs, acks };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe("SDK group streams", () => {
  it("delivers live events whose prev it has, drops repeats, and fills a hole with a sync from the last gseq", async () => {
    const h = harness((after) => (after === 2 ? page([ev(3, 2), ev(4, 3)]) : page([])));
    h.d.live(ev(1, 0));
    h.d.live(ev(2, 1));
    h.d.live(ev(2, 1)); // a repeat
    h.d.live(ev(4, 3)); // 3 is missing
    await tick();
    expect(h.got).toEqual([1, 2, 3, 4]);
    expect(h.syncs).toEqual([2]);
  });

  it("takes a page as an unbroken run from where the server started it, even above its position (what it acked, or an inbox's old copies)", async () => {
    const h = harness();
    // The server starts this device after gseq 10: its inbox holds 1..10 from before groups were stored once.
    h.d.groupCaughtUp(page([ev(11, 10), ev(12, 11)]));
    h.d.live(ev(13, 12));
    await tick();
    expect(h.got).toEqual([11, 12, 13]);
    expect(h.d.lastGseq(G)).toBe(13);
  });

  it("moves to the head of a page that ends the stream, so events it may not see cause no sync", async () => {
    const h = harness();
    h.d.groupCaughtUp(page([ev(1, 0)], false, 5)); // 2..5 are not this member's
    h.d.live(ev(6, 5));
    await tick();
    expect(h.got).toEqual([1, 6]);
    expect(h.syncs).toEqual([]);
  });

  it("moves past its own post with the ack's prev, so the next push needs no sync; acks groups with the inbox", async () => {
    const h = harness();
    h.d.live(ev(1, 0));
    h.d.posted(G, 2, 1);
    h.d.live(ev(3, 2));
    // A post whose prev it does not have yet changes nothing.
    h.d.posted(G, 9, 8);
    await new Promise((r) => setTimeout(r, 600));
    expect(h.got).toEqual([1, 3]);
    expect(h.syncs).toEqual([]);
    expect(h.acks).toEqual([{ groups: { [G]: 3 } }]);
  });

  it("reports a retention gap of a group and continues after it", async () => {
    const h = harness();
    const gaps: unknown[] = [];
    (h.d as unknown as { events: Emitter<ClientEvents> }).events.on("gap", (g) => gaps.push(g));
    h.d.groupCaughtUp({ ...page([ev(8, 7)]), gap: { from: 1, to: 7 } });
    expect(gaps).toEqual([{ from: 1, to: 7, gid: G }]);
    expect(h.got).toEqual([8]);
  });
});
