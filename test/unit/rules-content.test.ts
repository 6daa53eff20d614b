import { describe, expect, it } from "vitest";
import { ProtocolError } from "../../src/protocol";
import { blockedWord, decide, hookAnswerSchema } from "../../src/rules/content";

function refusal(fn: () => unknown): { code: string; fields?: Record<string, string> } | "ok" {
  try {
    fn();
    return "ok";
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    return { code: (err as ProtocolError).code, ...((err as ProtocolError).fields ? { fields: (err as ProtocolError).fields } : {}) };
  }
}

describe("moderation rules", () => {
  it("finds a blocked word in any case, and nothing without text or a list", () => {
    expect(blockedWord("Das ist VERBOTEN", ["verboten"])).toBe("verboten");
    expect(blockedWord("all good", ["verboten"])).toBeUndefined();
    expect(blockedWord(null, ["verboten"])).toBeUndefined();
    expect(blockedWord("verboten", [])).toBeUndefined();
  });

  it("stores the body the hook allows or writes, and refuses what it rejects with its code", () => {
    const body = { text: "hi" };
    expect(decide(body, { action: "allow" }, "closed")).toBe(body);
    expect(decide(body, { action: "rewrite", body: { text: "h*" } }, "closed")).toEqual({ text: "h*" });
    expect(refusal(() => decide(body, { action: "reject", code: "spam", message: "no spam" }, "open"))).toEqual({ code: "rejected", fields: { reason: "spam" } });
    expect(refusal(() => decide(body, { action: "reject" }, "open"))).toEqual({ code: "rejected" });
  });

  it("lets a send through when the hook fails only with the open policy", () => {
    const body = { text: "hi" };
    expect(decide(body, undefined, "open")).toBe(body);
    expect(refusal(() => decide(body, undefined, "closed"))).toEqual({ code: "unavailable" });
  });

  it("reads only well-formed hook answers", () => {
    expect(hookAnswerSchema.safeParse({ action: "allow" }).success).toBe(true);
    expect(hookAnswerSchema.safeParse({ action: "reject", code: "Not OK!" }).success).toBe(false);
    expect(hookAnswerSchema.safeParse({ action: "rewrite" }).success).toBe(false);
    expect(hookAnswerSchema.safeParse({ action: "maybe" }).success).toBe(false);
  });
});
