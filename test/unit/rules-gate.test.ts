import { describe, expect, it } from "vitest";
import { ProtocolError } from "../../src/protocol";
import { type Crossing, gate, type PeerSets, refusalWith, strangerMayPass } from "../../src/rules/gate";

/** Alice's peers: bob is a friend, mallory is blocked (either way), sam is a stranger. */
const peers: PeerSets = { friends: new Set(["bob"]), blocked: new Set(["mallory"]) };
const KINDS: ReadonlySet<string> = new Set(["friend_request"]);

const friendsOnly: Crossing = { what: "friends_only" };
const invite: Crossing = { what: "invite" };
const text: Crossing = { what: "message", kind: "text", body: { text: "hi" }, strangerKinds: KINDS };
/** The seed's friend request: a stranger kind in the seed's frame shape. */
const seedRequest: Crossing = {
  what: "message",
  kind: "friend_request",
  body: { type: "friend_request", fromUid: "alice", toUid: "sam" },
  strangerKinds: KINDS
};

/** The code `gate` refuses with, "ok" when it passes, "lookup" when it asks whether the user exists. */
function outcome(to: string, crossing: Crossing, exists?: boolean): string {
  const v = gate(peers, to, crossing, exists);
  if (v.ok) return "ok";
  if ("lookup" in v) return "lookup";
  expect(v.error).toBeInstanceOf(ProtocolError);
  return v.error.code;
}

describe("the friendship gate", () => {
  it("lets anything through to a friend, with no user lookup", () => {
    for (const c of [friendsOnly, invite, text, seedRequest]) expect(outcome("bob", c)).toBe("ok");
  });

  it("refuses everything across a block, stranger kinds and invites included, with no lookup", () => {
    for (const c of [friendsOnly, invite, text, seedRequest]) {
      expect(outcome("mallory", c)).toBe("blocked");
      expect(outcome("mallory", c, true)).toBe("blocked");
    }
  });

  it("asks whether a non-friend exists before it refuses or exempts them", () => {
    expect(outcome("sam", friendsOnly)).toBe("lookup");
    expect(outcome("sam", text)).toBe("lookup");
    expect(outcome("sam", seedRequest)).toBe("lookup");
  });

  it("refuses a stranger as `stranger` for anything but an exempt message", () => {
    expect(outcome("sam", friendsOnly, true)).toBe("stranger");
    expect(outcome("sam", text, true)).toBe("stranger");
  });

  it("lets the seed's stranger kinds reach an existing non-friend who is not blocked", () => {
    expect(outcome("sam", seedRequest, true)).toBe("ok");
  });

  it("answers unknown_user for someone who does not exist, exempt kind or not", () => {
    expect(outcome("nobody", friendsOnly, false)).toBe("unknown_user");
    expect(outcome("nobody", text, false)).toBe("unknown_user");
    expect(outcome("nobody", seedRequest, false)).toBe("unknown_user");
  });

  it("lets an invite reach a stranger (who chooses to join), with no lookup", () => {
    expect(outcome("sam", invite)).toBe("ok");
    expect(outcome("nobody", invite)).toBe("ok");
  });

  it("exempts a stranger kind only in the seed's frame shape", () => {
    const shapeless: Crossing = { what: "message", kind: "friend_request", body: { text: "add me" }, strangerKinds: KINDS };
    expect(outcome("sam", shapeless, true)).toBe("stranger");
    const otherType: Crossing = { what: "message", kind: "friend_request", body: { type: "text", fromUid: "alice", toUid: "sam" }, strangerKinds: KINDS };
    expect(outcome("sam", otherType, true)).toBe("stranger");
    const notConfigured: Crossing = { ...seedRequest, strangerKinds: new Set() };
    expect(outcome("sam", notConfigured, true)).toBe("stranger");
  });
});

describe("strangerMayPass", () => {
  it("needs a configured kind and a seed-shaped body of that type", () => {
    const body = { type: "friend_request", fromUid: "a", toUid: "b" };
    expect(strangerMayPass(KINDS, "friend_request", body)).toBe(true);
    expect(strangerMayPass(KINDS, "text", { ...body, type: "text" })).toBe(false);
    expect(strangerMayPass(KINDS, "friend_request", { type: "friend_request", fromUid: "a" })).toBe(false);
    expect(strangerMayPass(KINDS, "friend_request", [body])).toBe(false);
    expect(strangerMayPass(KINDS, "friend_request", "friend_request")).toBe(false);
  });
});

describe("refusalWith", () => {
  it("names the block or the missing friendship, with the peer in the message", () => {
    const blocked = refusalWith("mallory", true);
    expect(blocked.code).toBe("blocked");
    expect(blocked.message).toContain("mallory");
    const stranger = refusalWith("sam", false);
    expect(stranger.code).toBe("stranger");
    expect(stranger.message).toContain("sam");
  });
});
