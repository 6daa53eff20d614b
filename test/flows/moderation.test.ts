import { describe, expect, it } from "vitest";
import type { SyncResult } from "../../src/protocol";
import { connect, friends, textTo } from "../helpers/fixtures";
import { groupText, makeGroup, streamOf } from "../helpers/groups";

/** BLOCKED_WORDS is "verboten,forbiddenword" in these tests (test/vitest.config.ts). */
describe("the word filter", () => {
  it("refuses a direct message containing a blocked word, in any case, and stores nothing", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const b = await connect(bob);
    const refused = await a.request(textTo(bob, "this is VERBOTEN, really"));
    expect(refused).toMatchObject({ ok: false, error: { code: "rejected", fields: { reason: "blocked_word" } } });
    await a.ok(textTo(bob, "this is fine"));
    await b.next("message", (m) => (m.body as { text: string }).text === "this is fine");
    for (const c of [a, b]) {
      const page = await c.ok<SyncResult>({ type: "sync", after: 0 });
      expect(page.events.filter((e) => e.type === "message").map((e) => (e.body as { text: string }).text)).toEqual(["this is fine"]);
    }
  });

  it("refuses a group message containing a blocked word, stored for nobody", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const g = await makeGroup(a, [bob]);
    expect(await a.request(groupText(g.id, "a forbiddenword here"))).toMatchObject({ ok: false, error: { code: "rejected" } });
    await a.ok(groupText(g.id, "clean"));
    const texts = (await streamOf(bob, g.id)).filter((e) => e.type === "message").map((e) => (e.body as { text: string }).text);
    expect(texts).toEqual(["clean"]);
  });
});
