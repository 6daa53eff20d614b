import { describe, expect, it } from "vitest";
import type { ReplyFrame, SeedImportResult } from "../../src/protocol";
import { connectSeed } from "../helpers/compat";
import { api, connect, expectJson, textTo } from "../helpers/fixtures";

/** Two fresh numeric uids, as the seed's MySQL ids are. */
function pair(): [number, number] {
  const base = 3_000_000 + Math.floor(Math.random() * 1e9);
  return [base, base + 1];
}

async function importSeed(body: object): Promise<SeedImportResult> {
  return expectJson<SeedImportResult>(await api("POST", "/api/v1/import/seed", body), 200);
}

/** The seed's private text frame. */
const dm = (from: number, to: number, id: string) => ({ fromUid: from, toUid: to, isGroup: 0, type: "text", id, content: `${from} to ${to}` });

function codeOf(reply: ReplyFrame): string {
  return reply.ok ? "ok" : reply.error.code;
}

describe("imported friendships, directed as the seed's oh_ai_friend rows", () => {
  it("as-is: a row (b, a) lets a message b and not b message a, on the seed's socket and on v1", async () => {
    const [a, b] = pair();
    const first = await importSeed({ users: [{ id: a }, { id: b }], oh_ai_friend: [{ uid: b, frienduid: a }], friendshipImport: "as-is" });
    expect(first.friendships).toEqual({ created: 1, existing: 0 });
    expect(first.skipped).toEqual([]);
    // The friend lists are D1's rows as they are: b lists a, a lists nobody.
    expect(await expectJson(await api("GET", `/api/v1/users/${b}/friends`), 200)).toEqual({ friends: [String(a)] });
    expect(await expectJson(await api("GET", `/api/v1/users/${a}/friends`), 200)).toEqual({ friends: [] });

    const sa = await connectSeed(String(a));
    const sb = await connectSeed(String(b));
    sa.send(dm(a, b, "ab1"));
    expect(await sb.next("text")).toEqual(dm(a, b, "ab1"));
    sb.send(dm(b, a, "ba1"));
    expect(await sb.next("stranger")).toEqual({ id: "ba1", type: "stranger" });
    await sa.settle();
    expect(sa.seen("text")).toEqual([]);

    const va = await connect(String(a));
    const vb = await connect(String(b));
    expect(codeOf(await va.request(textTo(String(b), "v1 a to b")))).toBe("ok");
    expect(await vb.next("message")).toMatchObject({ from: String(a), to: String(b), body: { text: "v1 a to b" } });
    const refused = await vb.request(textTo(String(a), "v1 b to a"));
    expect(refused).toMatchObject({ ok: false, error: { code: "stranger", retryable: false } });

    // Presence follows the lists: b lists a, so b sees a online; a lists nobody.
    expect(await vb.ok({ type: "online" })).toEqual({ friends: [String(a)] });
    expect(await va.ok({ type: "online" })).toEqual({ friends: [] });

    const again = await importSeed({ oh_ai_friend: [{ uid: b, frienduid: a }], friendshipImport: "as-is" });
    expect(again.friendships).toEqual({ created: 0, existing: 1 });
  });

  it("both (the default): the same row makes them friends both ways, and a repeat counts as existing", async () => {
    const [a, b] = pair();
    const first = await importSeed({ users: [{ id: a }, { id: b }], oh_ai_friend: [{ uid: b, frienduid: a }] });
    expect(first.friendships).toEqual({ created: 1, existing: 0 });
    expect(await expectJson(await api("GET", `/api/v1/users/${a}/friends`), 200)).toEqual({ friends: [String(b)] });

    const sa = await connectSeed(String(a));
    const sb = await connectSeed(String(b));
    sa.send(dm(a, b, "ab"));
    expect(await sb.next("text")).toEqual(dm(a, b, "ab"));
    sb.send(dm(b, a, "ba"));
    expect(await sa.next("text")).toEqual(dm(b, a, "ba"));
    const va = await connect(String(a));
    const vb = await connect(String(b));
    expect(codeOf(await va.request(textTo(String(b), "hi")))).toBe("ok");
    expect(codeOf(await vb.request(textTo(String(a), "hi")))).toBe("ok");

    for (const friendshipImport of ["both", "as-is"] as const) {
      const again = await importSeed({ oh_ai_friend: [{ uid: b, frienduid: a }, { uid: a, frienduid: b }], friendshipImport });
      // `both` counts the pair once; `as-is` each directed row, both present already.
      expect(again.friendships).toEqual({ created: 0, existing: friendshipImport === "both" ? 1 : 2 });
    }
  });

  it("refreshes both users' gates when a later row or a later call completes or ends a one-sided friendship", async () => {
    const [a, b] = pair();
    await importSeed({ users: [{ id: a }, { id: b }], oh_ai_friend: [{ uid: b, frienduid: a }], friendshipImport: "as-is" });
    const sa = await connectSeed(String(a));
    const sb = await connectSeed(String(b));
    // Both objects have read their peers now.
    sb.send(dm(b, a, "before"));
    expect(await sb.next("stranger")).toEqual({ id: "before", type: "stranger" });
    sa.send(dm(a, b, "warm"));
    expect(await sb.next("text")).toEqual(dm(a, b, "warm"));

    // The other direction's row arrives in a later page: b may now message a.
    const later = await importSeed({ oh_ai_friend: [{ uid: a, frienduid: b }], friendshipImport: "as-is" });
    expect(later.friendships).toEqual({ created: 1, existing: 0 });
    sb.send(dm(b, a, "after"));
    expect(await sa.next("text")).toEqual(dm(b, a, "after"));

    // Ending it removes both rows; completing a half-present pair with `both` counts it as new.
    await expectJson(await api("DELETE", `/api/v1/friendships/${a}/${b}`), 204);
    sa.send(dm(a, b, "ended"));
    expect(await sa.next("stranger")).toEqual({ id: "ended", type: "stranger" });
    await importSeed({ oh_ai_friend: [{ uid: a, frienduid: b }], friendshipImport: "as-is" });
    sb.send(dm(b, a, "one-sided again"));
    expect(await sa.next("text")).toEqual(dm(b, a, "one-sided again"));
    sa.send(dm(a, b, "not yet"));
    expect(await sa.next("stranger")).toEqual({ id: "not yet", type: "stranger" });
    const completed = await importSeed({ oh_ai_friend: [{ uid: a, frienduid: b }], friendshipImport: "both" });
    expect(completed.friendships).toEqual({ created: 1, existing: 0 });
    sa.send(dm(a, b, "now mutual"));
    expect(await sb.next("text")).toEqual(dm(a, b, "now mutual"));
  });

  it("lets the side that cannot reach the other ask for the friendship over v1", async () => {
    const [a, b] = pair();
    await importSeed({ users: [{ id: a }, { id: b }], oh_ai_friend: [{ uid: b, frienduid: a }], friendshipImport: "as-is" });
    // b lists a but a does not list b: they are not friends yet, so b may ask.
    await expectJson(await api("POST", "/api/v1/friend-requests", { from: String(b), to: String(a) }), 201);
    // Making them friends through the API fills in the missing row.
    expect(await expectJson(await api("POST", "/api/v1/friendships", { a: String(a), b: String(b) }), 201)).toMatchObject({ created: true });
    expect(await expectJson(await api("POST", "/api/v1/friendships", { a: String(a), b: String(b) }), 200)).toMatchObject({ created: false });
  });

  it("rejects an unknown friendshipImport value", async () => {
    const res = await api("POST", "/api/v1/import/seed", { oh_ai_friend: [], friendshipImport: "mutual" });
    expect(res.status).toBe(400);
  });
});
