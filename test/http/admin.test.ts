import { describe, expect, it } from "vitest";
import { api, call, connect, createUser, textTo, uniqueId } from "../helpers/fixtures";

describe("health", () => {
  it("answers 200 with JSON and needs no key", async () => {
    const res = await call("/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, service: "edge-im" });
  });

  it("answers unknown routes with the JSON error shape", async () => {
    const res = await call("/nope");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: { code: "not_found", num: 400, message: "no route GET /nope", retryable: false }
    });
  });
});

describe("API key", () => {
  it("refuses a missing or wrong key with 401", async () => {
    const missing = await call("/api/v1/users", { method: "POST", body: "{}" });
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ error: { code: "unauthorized" } });
    const wrong = await api("POST", "/api/v1/users", { id: uniqueId() }, "nope");
    expect(wrong.status).toBe(401);
  });

  it("accepts every key listed in API_KEY, for rotation", async () => {
    expect((await api("POST", "/api/v1/users", { id: uniqueId() }, "test-api-key-old")).status).toBe(201);
    expect((await api("POST", "/api/v1/users", { id: uniqueId() }, "test-api-key")).status).toBe(201);
  });
});

describe("users", () => {
  it("creates a user, then refuses the same id with 409", async () => {
    const id = uniqueId();
    const res = await api("POST", "/api/v1/users", { id, name: "Ada" });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ id, name: "Ada", createdAt: expect.any(Number) });
    const again = await api("POST", "/api/v1/users", { id });
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ error: { code: "conflict" } });
  });

  it("answers 400 with field errors for a bad body and for malformed JSON", async () => {
    const res = await api("POST", "/api/v1/users", { id: "has space", name: 5 });
    expect(res.status).toBe(400);
    const body = await res.json<{ error: { code: string; fields: Record<string, string> } }>();
    expect(body.error.code).toBe("bad_request");
    expect(Object.keys(body.error.fields).sort()).toEqual(["id", "name"]);
    const malformed = await call("/api/v1/users", {
      method: "POST",
      headers: { Authorization: "Bearer test-api-key", "Content-Type": "application/json" },
      body: "{oops"
    });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ error: { code: "invalid_json" } });
  });

  it("answers 413 for a body over the limit", async () => {
    const res = await api("POST", "/api/v1/users", { id: uniqueId(), name: "x".repeat(1_100_000) });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: { code: "frame_too_large" } });
  });
});

describe("friendships", () => {
  it("creates a mutual friendship once (201, then 200) and lets both sides message", async () => {
    const a = await createUser();
    const b = await createUser();
    const first = await api("POST", "/api/v1/friendships", { a, b });
    expect(first.status).toBe(201);
    expect(await first.json()).toEqual({ a, b, created: true });
    const again = await api("POST", "/api/v1/friendships", { a: b, b: a });
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ a: b, b: a, created: false });
    const cb = await connect(b);
    expect(await cb.ok(textTo(a, "from b"))).toHaveProperty("mid");
  });

  it("refuses unknown users (404), self-friendship (400) and deleting a non-friendship (404)", async () => {
    const a = await createUser();
    const ghost = uniqueId("ghost");
    const unknown = await api("POST", "/api/v1/friendships", { a, b: ghost });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: "unknown_user", message: `no user ${ghost}` } });
    expect((await api("POST", "/api/v1/friendships", { a, b: a })).status).toBe(400);
    const del = await api("DELETE", `/api/v1/friendships/${a}/${ghost}`);
    expect(del.status).toBe(404);
    expect((await api("DELETE", `/api/v1/friendships/${a}/bad%20id`)).status).toBe(400);
  });
});
