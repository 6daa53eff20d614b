import { describe, expect, it } from "vitest";
import { ProtocolError } from "../../src/protocol";
import { actorRole, assertManage, assertMayPost, assertMember, assertRole } from "../../src/rules/group-roles";
import { charge, TokenBucket } from "../../src/rules/rate-limit";
import { parseTarget, userTarget } from "../../src/rules/targets";
import { TYPING_RELAY_MS, TYPING_TTL_MS, TypingGate } from "../../src/rules/typing";

/** The code a refusal throws, or "ok". */
function codeOf(fn: () => unknown): string {
  try {
    fn();
    return "ok";
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    return (err as ProtocolError).code;
  }
}

describe("group roles", () => {
  it("tells the backend, members and outsiders apart", () => {
    expect(actorRole(null, undefined)).toBe("system");
    expect(actorRole("ann", { role: "admin" })).toBe("admin");
    expect(actorRole("ann", undefined)).toBe("outsider");
    expect(codeOf(() => assertMember("outsider"))).toBe("not_member");
    expect(assertMember("system")).toBe("system");
  });

  it("lets only the named roles act, and the backend always", () => {
    expect(codeOf(() => assertRole("member", ["owner", "admin"], "kick"))).toBe("forbidden");
    expect(codeOf(() => assertRole("admin", ["owner"], "dismiss the group"))).toBe("forbidden");
    expect(assertRole("admin", ["owner", "admin"], "kick")).toBe("admin");
    expect(assertRole("system", ["owner"], "dismiss the group")).toBe("system");
    expect(codeOf(() => assertRole("outsider", ["owner"], "x"))).toBe("not_member");
  });

  it("lets the owner manage all but the owner, admins only plain members", () => {
    const member = { uid: "m", role: "member" as const };
    const admin = { uid: "a", role: "admin" as const };
    const owner = { uid: "o", role: "owner" as const };
    expect(codeOf(() => assertManage("owner", admin, "kicked"))).toBe("ok");
    expect(codeOf(() => assertManage("admin", member, "kicked"))).toBe("ok");
    expect(codeOf(() => assertManage("admin", admin, "kicked"))).toBe("forbidden");
    expect(codeOf(() => assertManage("system", admin, "muted"))).toBe("ok");
    expect(codeOf(() => assertManage("system", owner, "kicked"))).toBe("forbidden");
    expect(() => assertManage("owner", owner, "muted")).toThrow(/transfer ownership first/);
  });

  it("lets only the owner and admins post in announcement mode", () => {
    expect(codeOf(() => assertMayPost("member", { announce: true }))).toBe("forbidden");
    expect(codeOf(() => assertMayPost("admin", { announce: true }))).toBe("ok");
    expect(codeOf(() => assertMayPost("owner", { announce: true }))).toBe("ok");
    expect(codeOf(() => assertMayPost("member", {}))).toBe("ok");
  });
});

describe("the send token bucket", () => {
  it("grants the burst, then says how long until the next token", () => {
    const bucket = new TokenBucket(2, 3, 0);
    expect([bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([0, 0, 0]);
    expect(bucket.take(0)).toBe(500);
    expect(bucket.take(500)).toBe(0);
  });

  it("gives a refunded token back, never above the burst", () => {
    const bucket = new TokenBucket(1, 1, 0);
    expect(bucket.take(0)).toBe(0);
    bucket.refund();
    bucket.refund();
    expect(bucket.take(0)).toBe(0);
    expect(bucket.take(0)).toBeGreaterThan(0);
  });

  it("charges refuse with rate_limited and the wait", () => {
    const bucket = new TokenBucket(1, 1);
    charge(bucket, "edits");
    try {
      charge(bucket, "edits");
      expect.unreachable();
    } catch (err) {
      expect((err as ProtocolError).code).toBe("rate_limited");
      expect((err as ProtocolError).toBody().retryAfterMs).toBeGreaterThan(0);
    }
  });
});

describe("the typing throttle", () => {
  it("relays a start at most once per relay window, and a stop only after a live start", () => {
    const gate = new TypingGate();
    expect(gate.allow("dm:bob", false, 0)).toBe(false);
    expect(gate.allow("dm:bob", true, 0)).toBe(true);
    expect(gate.allow("dm:bob", true, TYPING_RELAY_MS - 1)).toBe(false);
    expect(gate.allow("dm:bob", false, 10)).toBe(true);
    expect(gate.allow("dm:bob", true, 10 + TYPING_RELAY_MS)).toBe(true);
    expect(gate.allow("dm:bob", false, 10 + TYPING_RELAY_MS + TYPING_TTL_MS)).toBe(false);
    expect(gate.allow("dm:carol", true, 0)).toBe(true);
  });
});

describe("delivery targets", () => {
  it("name a user and read back", () => {
    expect(userTarget("bob")).toBe("u:bob");
    expect(parseTarget(userTarget("bob"))).toEqual({ kind: "user", id: "bob" });
    expect(parseTarget("g:team")).toBeUndefined();
  });
});
