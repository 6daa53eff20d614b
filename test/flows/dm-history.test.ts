import { describe, expect, it } from "vitest";
import type { DmHistoryPage, MessageEvent, SendAck } from "../../src/protocol";
import { api, befriend, connect, createUser, expectJson, friends, textTo } from "../helpers/fixtures";

const texts = (p: DmHistoryPage) => p.messages.map((m) => (m.body as { text?: string } | null)?.text ?? null);

/** Alice and Bob exchange m0…m5 in turns (Alice sends the even ones); Alice also talks to Carol. */
async function chat() {
  const [alice, bob] = await friends();
  const carol = await createUser();
  await befriend(alice, carol);
  const a = await connect(alice);
  const b = await connect(bob);
  const acks: SendAck[] = [];
  for (let i = 0; i < 6; i++) {
    const [from, to, peer] = i % 2 === 0 ? [a, b, bob] : [b, a, alice];
    acks.push(await from.ok<SendAck>(textTo(peer, `m${i}`)));
    await to.next("message", (m) => (m.body as { text: string }).text === `m${i}`);
  }
  await a.ok(textTo(carol, "to carol"));
  return { alice, bob, a, b, acks };
}

describe("direct-chat history", () => {
  it("pages a conversation newest first by page, each page oldest first, without other conversations", async () => {
    const { bob, a } = await chat();
    const newest = await a.ok<DmHistoryPage>({ type: "dm_history", peer: bob, limit: 4 });
    expect(texts(newest)).toEqual(["m2", "m3", "m4", "m5"]);
    expect(newest.more).toBe(true);
    const older = await a.ok<DmHistoryPage>({ type: "dm_history", peer: bob, before: newest.messages[0]!.seq, limit: 4 });
    expect(texts(older)).toEqual(["m0", "m1"]);
    expect(older.more).toBe(false);
    const forward = await a.ok<DmHistoryPage>({ type: "dm_history", peer: bob, after: older.messages[1]!.seq, limit: 3 });
    expect(texts(forward)).toEqual(["m2", "m3", "m4"]);
    expect(forward.more).toBe(true);
    // Each side pages its own inbox: the same conversation, its own seqs.
    expect(newest.messages.every((m) => m.chat === "dm" && (m.to === bob || m.from === bob))).toBe(true);
  });

  it("leaves out what you deleted for yourself, keeps a recall without its text, and shows the current edit", async () => {
    const { bob, a, b, acks } = await chat();
    await a.ok({ type: "delete", mid: acks[1]!.mid });
    await a.ok({ type: "recall", mid: acks[2]!.mid });
    await a.ok({ type: "edit", mid: acks[4]!.mid, body: { text: "m4 edited" } });
    const mine = await a.ok<DmHistoryPage>({ type: "dm_history", peer: bob, limit: 10 });
    expect(texts(mine)).toEqual(["m0", null, "m3", "m4 edited", "m5"]);
    expect((mine.messages[1] as MessageEvent).recalled).toMatchObject({ by: a.welcome.uid });
    // Deleting for yourself is yours alone: Bob still has m1.
    await b.next("update", (u) => u.op === "edit");
    expect(texts(await b.ok<DmHistoryPage>({ type: "dm_history", peer: a.welcome.uid, limit: 10 }))).toEqual(["m0", "m1", null, "m3", "m4 edited", "m5"]);
  });

  it("answers a peer never talked to with an empty page, and refuses before with after", async () => {
    const { a } = await chat();
    expect(await a.ok({ type: "dm_history", peer: await createUser() })).toEqual({ messages: [], more: false });
    const reply = await a.request({ type: "dm_history", peer: "bob", before: 5, after: 1 });
    expect(reply).toMatchObject({ ok: false, error: { code: "invalid_frame" } });
  });

  it("serves the same pages to the app's backend over HTTP", async () => {
    const { alice, bob, a } = await chat();
    const page = await expectJson<DmHistoryPage>(await api("GET", `/api/v1/users/${alice}/conversations/${bob}/messages?limit=4`), 200);
    expect(page).toEqual(await a.ok({ type: "dm_history", peer: bob, limit: 4 }));
    const older = await expectJson<DmHistoryPage>(await api("GET", `/api/v1/users/${alice}/conversations/${bob}/messages?before=${page.messages[0]!.seq}`), 200);
    expect(texts(older)).toEqual(["m0", "m1"]);
    expect((await api("GET", `/api/v1/users/${alice}/conversations/${bob}/messages?before=3&after=1`)).status).toBe(400);
    expect((await api("GET", `/api/v1/users/nobody_${Date.now()}/conversations/${bob}/messages`)).status).toBe(404);
  });
});
