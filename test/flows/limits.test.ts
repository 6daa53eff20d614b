import { describe, expect, it } from "vitest";
import { originAllowed } from "../../src/http/routes/connect";
import type { HistoryEvent, MessageEvent, ReplyFrame, SendAck } from "../../src/protocol";
import { connect, createUser, friends, textTo } from "../helpers/fixtures";
import { groupText, makeGroup } from "../helpers/groups";

describe("per-user send rate limit (token bucket)", () => {
  it("refuses sends beyond the burst with rate_limited and a retry hint; other users are unaffected", async () => {
    const [a, b] = await friends();
    const [c, d] = await friends();
    const ca = await connect(a);
    const other = await connect(c);
    // Far past the burst (60) even if the bucket refills (20/s) while these are handled on a slow machine.
    const cmids = Array.from({ length: 250 }, (_, i) => `burst-${i}-${crypto.randomUUID()}`);
    const replies = await Promise.all(cmids.map((cmid, i) => ca.request(textTo(b, `burst ${i}`, cmid))));
    const refused = replies.filter((r) => !r.ok);
    expect(replies.filter((r) => r.ok).length).toBeGreaterThanOrEqual(60);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(r).toMatchObject({ ok: false, error: { code: "rate_limited", retryable: true, retryAfterMs: expect.any(Number) } });
    }
    expect(await other.ok<SendAck>(textTo(d, "unaffected"))).toHaveProperty("mid");
    // Resending stored messages (after a lost ack) costs nothing: it only recovers their acks.
    const stored = replies.map((r, i) => ({ r, i })).filter(({ r }) => r.ok).slice(0, 20);
    for (const { i } of stored) expect((await ca.request({ ...textTo(b, `burst ${i}`), cmid: cmids[i] })).ok).toBe(true);
    // The hint is honest: after waiting it out, the same user may send again.
    const wait = Math.max(...refused.map((r) => (r.ok ? 0 : r.error.retryAfterMs ?? 0)));
    await new Promise((r) => setTimeout(r, wait + 50));
    expect(await ca.ok<SendAck>(textTo(b, "after the wait"))).toHaveProperty("mid");
  });
});

describe("the same budget for everything that writes to others' inboxes", () => {
  it("refuses reaction toggles and group changes past the burst, so nobody can flood a peer's inbox", async () => {
    const [a, b] = await friends();
    const ca = await connect(a);
    const sent = await ca.ok<SendAck>(textTo(b, "react to this"));
    const headBefore = (await connect(b)).welcome.head;
    // Each toggle that gets through appends an update to b's inbox.
    const toggles = await Promise.all(
      Array.from({ length: 250 }, (_, i) => ca.request({ type: "react", mid: sent.mid, emoji: "x", remove: i % 2 === 1 }))
    );
    const through = toggles.filter((r) => r.ok).length;
    const refused = toggles.filter((r) => !r.ok);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(r).toMatchObject({ ok: false, error: { code: "rate_limited", retryable: true, retryAfterMs: expect.any(Number) } });
    }
    // What b's inbox grew by is bounded by the budget (the burst and what refilled meanwhile), not by what a wrote.
    const headAfter = (await connect(b)).welcome.head;
    expect(headAfter - headBefore).toBeGreaterThan(0);
    expect(headAfter - headBefore).toBeLessThanOrEqual(through); // a toggle to what already was answers changed: false
    expect(through).toBeLessThan(150);
    // Group changes spend the same budget: thirty creates at once cannot all go through.
    const creates = await Promise.all(Array.from({ length: 30 }, (_, i) => ca.request({ type: "group_create", name: `g${i}`, members: [b] })));
    expect(creates.some((r) => !r.ok && r.error.code === "rate_limited")).toBe(true);
    const wait = Math.max(...refused.map((r) => (r.ok ? 0 : r.error.retryAfterMs ?? 0)));
    await new Promise((r) => setTimeout(r, wait + 50));
    expect((await ca.request({ type: "react", mid: sent.mid, emoji: "y" })).ok).toBe(true);
  });
});

describe("caps, each with its own code", () => {
  it("message_too_large, too_many_mentions and page_too_large, leaving the socket usable", async () => {
    const [a, b] = await friends();
    const ca = await connect(a);
    const big = { type: "send", to: b, cmid: "big", body: { text: "x".repeat(40_000) } };
    expect(await ca.request(big)).toMatchObject({ ok: false, error: { code: "message_too_large" } });
    const members = await Promise.all(Array.from({ length: 3 }, () => createUser()));
    const g = await makeGroup(ca, members);
    const mentions = { users: Array.from({ length: 51 }, (_, i) => `u${i}`) };
    expect(await ca.request(groupText(g.id, "hey all", undefined, { mentions }))).toMatchObject({ ok: false, error: { code: "too_many_mentions" } });
    expect(await ca.request({ type: "sync", after: 0, limit: 501 })).toMatchObject({ ok: false, error: { code: "page_too_large" } });
    expect(await ca.ok<SendAck>(textTo(b, "still here"))).toHaveProperty("mid");
  });
});

describe("pages stay about a MiB, one at a time", () => {
  it("stops a history page at about a MiB, and paging either way still yields every message once", async () => {
    const owner = await createUser();
    const o = await connect(owner);
    const g = await makeGroup(o, []);
    const big = "x".repeat(30_000);
    const posted = await Promise.all(Array.from({ length: 45 }, (_, i) => o.ok<SendAck>(groupText(g.id, `${i} ${big}`))));
    const all = new Set(posted.map((p) => p.mid));

    const mids = (events: HistoryEvent[]) => events.filter((e) => e.type === "message").map((e) => (e as MessageEvent).mid);
    const newest = await o.ok<{ events: HistoryEvent[]; more: boolean }>({ type: "group_history", gid: g.id, limit: 200 });
    expect(newest.more).toBe(true);
    expect(newest.events.length).toBeLessThan(46);
    expect(JSON.stringify(newest.events).length).toBeLessThan(1024 * 1024 + 40_000);
    const backward = [...mids(newest.events)];
    for (let page = newest; page.more; ) {
      page = await o.ok({ type: "group_history", gid: g.id, before: page.events[0]!.gseq, limit: 200 });
      backward.unshift(...mids(page.events));
    }
    expect(backward).toHaveLength(45);
    expect(new Set(backward)).toEqual(all);

    const forward: string[] = [];
    for (let after = 0, more = true; more; ) {
      const page = await o.ok<{ events: HistoryEvent[]; more: boolean }>({ type: "group_history", gid: g.id, after, limit: 200 });
      forward.push(...mids(page.events));
      after = page.events.at(-1)!.gseq!;
      more = page.more;
    }
    expect(forward).toEqual(backward);
  });

  it("answers a batch of paged reads one WebSocket message each, so it never holds them all at once", async () => {
    const [a, b] = await friends();
    const ca = await connect(a);
    await ca.ok(textTo(b, "something to sync"));
    let messages = 0;
    ca.ws.addEventListener("message", () => messages++);
    ca.send([1, 2, 3].map((n) => JSON.stringify({ type: "sync", id: `batch-${n}`, after: 0 })).join("\n"));
    for (const n of [1, 2, 3]) {
      const reply = await ca.take<ReplyFrame>((f) => f.type === "reply" && f.id === `batch-${n}`);
      expect(reply).toMatchObject({ ok: true, result: { events: [expect.objectContaining({ type: "message" })] } });
    }
    expect(messages).toBe(3);
  });

  it("starts what follows a paged read in a batch only after it replied, in order", async () => {
    const owner = await createUser();
    const member = await createUser();
    const o = await connect(owner);
    const m = await connect(member);
    const g = await makeGroup(o, [member]);
    m.send([{ type: "group_history", id: "h", gid: g.id }, { type: "group_leave", id: "l", gid: g.id }].map((f) => JSON.stringify(f)).join("\n"));
    const history = await m.take<ReplyFrame>((f) => f.type === "reply" && f.id === "h");
    expect(history).toMatchObject({ ok: true, result: { events: [expect.objectContaining({ action: "created" })] } });
    expect(await m.take<ReplyFrame>((f) => f.type === "reply" && f.id === "l")).toMatchObject({ ok: true });
  });
});

describe("browser Origin allow-list", () => {
  it("allows any origin when the list is empty, else only the listed ones", () => {
    expect(originAllowed("https://evil.example", "")).toBe(true);
    expect(originAllowed("https://evil.example", undefined)).toBe(true);
    expect(originAllowed("https://app.example", "https://app.example, https://admin.example")).toBe(true);
    expect(originAllowed("https://evil.example", "https://app.example,https://admin.example")).toBe(false);
  });
});
