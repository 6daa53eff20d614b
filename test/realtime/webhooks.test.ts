import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { WebhookOutbox } from "../../src/store/webhooks";
import { createUser } from "../helpers/fixtures";

describe("webhook outbox", () => {
  it("takes a recalled message's text out of the events still waiting to be sent", async () => {
    const uid = await createUser();
    const stub = env.USERS.getByName(uid);
    await stub.stats(); // the object creates its tables (the outbox's among them)
    const bodies = await runInDurableObject(stub, (_o, state) => {
      // Enabled, but nothing is sent: enqueue only stores.
      const outbox = new WebhookOutbox(state.storage.sql, { url: "http://127.0.0.1:9/hook", secret: "s", retryMs: 1000 });
      outbox.enqueue("message", { mid: "m1", body: { text: "the secret" } });
      outbox.enqueue("update", { op: "edit", mid: "m1", body: { text: "the secret, edited" }, version: 1 });
      outbox.enqueue("message", { mid: "m2", body: { text: "a reply" }, reply: { mid: "m1", text: "the secret" } });
      outbox.enqueue("message", { mid: "m3", body: { text: "untouched" } });
      outbox.enqueue("update", { op: "recall", mid: "m1" });
      return state.storage.sql
        .exec<{ body: string }>("SELECT body FROM webhooks ORDER BY rowid")
        .toArray()
        .map((r) => JSON.parse(r.body) as { type: string; data: Record<string, unknown> });
    });
    expect(JSON.stringify(bodies)).not.toContain("secret");
    expect(bodies.map((b) => [b.type, b.data])).toEqual([
      ["message", { mid: "m1", body: null }],
      ["update", { op: "edit", mid: "m1", version: 1 }],
      ["message", { mid: "m2", body: { text: "a reply" }, reply: { mid: "m1", text: null } }],
      ["message", { mid: "m3", body: { text: "untouched" } }],
      ["update", { op: "recall", mid: "m1" }]
    ]);
  });
});
