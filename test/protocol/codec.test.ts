import { describe, expect, it } from "vitest";
import {
  clientFrameSchema,
  decodeClientFrame,
  decodeMessage,
  MAX_FRAMES_PER_MESSAGE,
  ERRORS,
  serverFrameSchema,
  shouldReconnect
} from "../../src/protocol";
import { newEventId } from "../../src/lib/ids";

describe("decodeClientFrame", () => {
  it("applies defaults and returns the typed frame", () => {
    const d = decodeClientFrame(JSON.stringify({ type: "send", id: 1, to: "bob", cmid: "c", body: "hi" }), 1000);
    expect(d).toEqual({
      ok: true,
      frame: { type: "send", id: 1, to: "bob", cmid: "c", body: "hi", chat: "dm", kind: "text" }
    });
  });

  it("measures the limit in UTF-8 bytes, not characters", () => {
    const s = JSON.stringify({ type: "ping", pad: "€".repeat(400) });
    expect(s.length).toBeLessThan(1000);
    expect(decodeClientFrame(s, 1000)).toMatchObject({ ok: false, error: { code: "frame_too_large" } });
    expect(decodeClientFrame(s, 2000).ok).toBe(true);
  });

  it("echoes a readable id even when the rest of the frame is wrong", () => {
    expect(decodeClientFrame('{"type":"sync","id":"x"}', 100)).toMatchObject({
      ok: false,
      id: "x",
      error: { code: "invalid_frame", fields: { after: expect.any(String) } }
    });
  });
});

describe("protocol tables", () => {
  it("gives every error code a unique number", () => {
    const nums = Object.values(ERRORS).map((e) => e.num);
    expect(new Set(nums).size).toBe(nums.length);
  });

  it("splits close codes into reconnect and terminal ranges", () => {
    expect(shouldReconnect(4000)).toBe(true);
    expect(shouldReconnect(4001)).toBe(true);
    expect(shouldReconnect(4500)).toBe(false);
    expect(shouldReconnect(1006)).toBe(true);
  });

  it("makes time-sortable 26-character ids", () => {
    const a = newEventId(1_000);
    const b = newEventId(2_000);
    expect(a).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(a < b).toBe(true);
  });

  it("validates the documented frame examples", () => {
    expect(clientFrameSchema.safeParse({ type: "read", id: "r1", peer: "alice", mid: newEventId() }).success).toBe(true);
    expect(
      serverFrameSchema.safeParse({ type: "presence", uid: "alice", online: true, ts: 1 }).success
    ).toBe(true);
  });
});

describe("decodeMessage", () => {
  it("splits a newline-separated batch into frames, each decoded on its own", () => {
    const raw = ['{"type":"ping","id":1}', "{oops", '{"type":"sync","id":"s","after":0}'].join("\n");
    const out = decodeMessage(raw, 1000);
    expect(out.map((d) => (d.ok ? d.frame.type : d.error.code))).toEqual(["ping", "invalid_json", "sync"]);
  });

  it("reads a pretty-printed frame as one frame", () => {
    const out = decodeMessage(JSON.stringify({ type: "ping", id: 7 }, null, 2), 1000);
    expect(out).toEqual([{ ok: true, frame: { type: "ping", id: 7 } }]);
  });

  it("holds each frame of a batch to the frame limit, and caps the batch", () => {
    const big = JSON.stringify({ type: "ping", id: 1, pad: "x".repeat(200) });
    const [small, large] = decodeMessage(`{"type":"ping","id":2}\n${big}`, 100);
    expect(small).toMatchObject({ ok: true });
    expect(large).toMatchObject({ ok: false, id: 1, error: { code: "frame_too_large" } });
    const many = Array.from({ length: MAX_FRAMES_PER_MESSAGE + 1 }, () => '{"type":"ping"}').join("\n");
    expect(decodeMessage(many, 100_000)).toMatchObject([{ ok: false, error: { code: "frame_too_large" } }]);
  });
});
