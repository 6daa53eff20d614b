import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeMessage, ERRORS, type ErrorCode, type MessageEvent, type SendAck, type SyncResult } from "../../src/protocol";
import { call, connect, friends } from "../helpers/fixtures";

const MAX = 65_536;
const CODES = new Set(Object.keys(ERRORS));

/** Valid frames to mutate. */
const VALID = [
  { type: "send", id: 1, cmid: "c1", to: "bob", body: { text: "hi" } },
  { type: "sync", id: "s", after: 0, limit: 10 },
  { type: "ack", seq: 3 },
  { type: "read", id: 2, peer: "bob", mid: "01JD3V6K7Q2W8XKZ4T9B5N0MRA" },
  { type: "group_create", id: 3, name: "g", members: ["a"] },
  { type: "group_history", id: 4, gid: "g1", before: 5 }
];

/** Strings an attacker would try: they must be stored and returned as data, byte-exact. */
const HOSTILE = [
  "'; DROP TABLE inbox; --",
  "\" OR 1=1 --",
  "<script>alert(document.cookie)</script>",
  "<img src=x onerror=alert(1)>",
  "${7*7}{{7*7}}",
  "\u0000\u0001\u001f",
  "\ud800 lone high surrogate",
  "lone low \udc00",
  "🧨 emoji and ‮ right-to-left override",
  "__proto__",
  "x".repeat(1000)
];

const frameArb = fc.oneof(
  fc.string(),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.constantFrom(...VALID).chain((f) =>
    fc.record({ key: fc.constantFrom(...Object.keys(f), "__proto__", "constructor", "type", "id"), value: fc.jsonValue() }).map(({ key, value }) =>
      JSON.stringify({ ...f, [key]: value })
    )
  ),
  fc.constantFrom(...VALID).map((f) => JSON.stringify(f).slice(0, -1)),
  fc.integer({ min: 1, max: 5000 }).map((n) => "[".repeat(n) + "]".repeat(n)),
  fc.integer({ min: 1, max: 5000 }).map((n) => JSON.stringify({ type: "send", id: 1, cmid: "c", to: "bob", body: JSON.parse("[".repeat(n) + "]".repeat(n)) })),
  fc.constantFrom("1e400", '{"type":"ack","seq":1e400}', '{"type":"sync","id":1,"after":-1}', '{"type":"ack","seq":9007199254740993}'),
  fc.array(fc.constantFrom(...VALID.map((f) => JSON.stringify(f))), { maxLength: 120 }).map((fs) => fs.join("\n"))
);

describe("frame decoder under hostile input", () => {
  it("never throws: every message decodes to frames or coded errors, and nothing is polluted", () => {
    fc.assert(
      fc.property(frameArb, (raw) => {
        const out = decodeMessage(raw, MAX);
        expect(out.length).toBeGreaterThan(0);
        for (const d of out) {
          if (!d.ok) expect(CODES.has(d.error.code)).toBe(true);
        }
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        expect(Object.prototype).not.toHaveProperty("polluted");
      }),
      { numRuns: 2000 }
    );
    expect(decodeMessage('{"type":"ack","seq":1,"__proto__":{"polluted":true}}', MAX)[0]!.ok).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // A `__proto__` key in a message body stays an own key: data, not a prototype.
    const d = decodeMessage('{"type":"send","id":1,"cmid":"c","to":"bob","body":{"__proto__":{"x":1},"y":2}}', MAX)[0]!;
    expect(d.ok && Object.hasOwn(d.frame as object, "body") && Object.hasOwn((d.frame as { body: object }).body, "__proto__")).toBe(true);
    expect(JSON.stringify((d as { frame: { body: unknown } }).frame.body)).toBe('{"__proto__":{"x":1},"y":2}');
  });

  it("refuses binary, oversize and invalid UTF-8 bytes with their codes", () => {
    expect(decodeMessage(new Uint8Array([0xff, 0xfe]).buffer, MAX)[0]).toMatchObject({ ok: false, error: { code: "binary_not_supported" } });
    expect(decodeMessage("x".repeat(MAX + 1), MAX)[0]).toMatchObject({ ok: false, error: { code: "frame_too_large" } });
    const deep = JSON.stringify({ type: "send", id: 9, cmid: "c", to: "bob", body: JSON.parse("[".repeat(20_000) + "]".repeat(20_000)) });
    expect(decodeMessage(deep, 10 * MAX)[0]).toMatchObject({ ok: false, id: 9, error: { code: "invalid_frame" } });
  });
});

describe("hostile strings are data", () => {
  it("stores and returns SQL-, script- and surrogate-laden text byte-exact, live and through sync", async () => {
    const [a, b] = await friends();
    const ca = await connect(a);
    const cb = await connect(b);
    const acks: SendAck[] = [];
    for (const [i, text] of HOSTILE.entries()) acks.push(await ca.ok<SendAck>({ type: "send", to: b, cmid: `h${i}`, kind: "text", body: { text, [text.slice(0, 20)]: text } }));
    const live: MessageEvent[] = [];
    for (let i = 0; i < HOSTILE.length; i++) live.push((await cb.next("message")) as MessageEvent);
    const page = await cb.ok<SyncResult>({ type: "sync", after: 0 });
    for (const [i, text] of HOSTILE.entries()) {
      const expected = { text, [text.slice(0, 20)]: text };
      expect(live[i]!.body).toEqual(expected);
      expect((page.events[i] as MessageEvent).body).toEqual(expected);
      expect(live[i]!.mid).toBe(acks[i]!.mid);
    }
  });
});

type Doc = { paths: Record<string, Record<string, { requestBody?: unknown; responses: Record<string, unknown> }>> };

describe("HTTP bodies under hostile input", () => {
  it("answers every documented body-taking route with a documented status, never a 500", async () => {
    const doc = (await (await call("/api/v1/openapi.json")).json()) as Doc;
    const ops = Object.entries(doc.paths).flatMap(([path, ms]) =>
      Object.entries(ms)
        .filter(([, o]) => o.requestBody !== undefined)
        .map(([method, o]) => ({ method: method.toUpperCase(), path: path.replace(/\{[^}]+\}/g, "fz_1"), statuses: new Set(Object.keys(o.responses)) }))
    );
    expect(ops.length).toBeGreaterThan(15);
    const bodyArb = fc.oneof(
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.constantFrom(...HOSTILE).map((s) => JSON.stringify({ id: s, uid: s, name: s, body: s, from: s, to: s, a: s, b: s })),
      fc.constantFrom("{", '{"id":1e400}', '{"__proto__":{"polluted":true},"id":"x"}', "null", "[]", '"\\ud800"')
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ops), bodyArb, async (op, body) => {
        const res = await call(op.path, { method: op.method, headers: { Authorization: "Bearer test-api-key", "Content-Type": "application/json" }, body });
        const text = await res.text();
        expect(res.status, `${op.method} ${op.path} ${body} → ${res.status} ${text}`).toBeLessThan(500);
        expect(op.statuses.has(String(res.status)), `${op.method} ${op.path} answered an undocumented ${res.status}: ${text}`).toBe(true);
        const err = res.status >= 400 ? (JSON.parse(text) as { error: { code: ErrorCode } }).error : undefined;
        if (err) expect(CODES.has(err.code)).toBe(true);
      }),
      { numRuns: 300 }
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("answers a body nested too deeply for the validator with 400, not 500", async () => {
    const deep = "[".repeat(60_000) + "]".repeat(60_000);
    const res = await call("/api/v1/push/users", {
      method: "POST",
      headers: { Authorization: "Bearer test-api-key", "Content-Type": "application/json" },
      body: `{"uids":["someone"],"body":${deep}}`
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "bad_request" } });
  });
});
