import { describe, expect, it } from "vitest";
import { peersFrom } from "../../src/rules/gate";
import { type Crossing, gate } from "../../src/rules/gate";

const text: Crossing = { what: "message", kind: "text", body: { text: "hi" }, strangerKinds: new Set() };

/** The code `gate` answers a text from `uid`'s peers to `to` with (`to` exists). */
function textFrom(uid: string, edges: { userId: string; friendId: string }[], to: string, blocks: { blocker: string; blocked: string }[] = []): string {
  const v = gate(peersFrom(uid, edges, blocks), to, text, true);
  return v.ok ? "ok" : v.error.code;
}

describe("which way a friendship row opens the gate", () => {
  // The seed's oh_ai_friend row (uid = bob, frienduid = ann): bob lists ann.
  const bobListsAnn = [{ userId: "bob", friendId: "ann" }];

  it("lets a user reach whoever lists them, as the seed's `uid = toUid AND frienduid = fromUid`", () => {
    expect(textFrom("ann", bobListsAnn, "bob")).toBe("ok");
    expect(textFrom("bob", bobListsAnn, "ann")).toBe("stranger");
  });

  it("keeps each side's own list for presence, apart from the gate's set", () => {
    expect(peersFrom("bob", bobListsAnn, [])).toEqual({ friends: new Set(), listed: new Set(["ann"]), blocked: new Set() });
    expect(peersFrom("ann", bobListsAnn, [])).toEqual({ friends: new Set(["bob"]), listed: new Set(), blocked: new Set() });
  });

  it("treats both rows as today's mutual friendship", () => {
    const both = [...bobListsAnn, { userId: "ann", friendId: "bob" }];
    expect(textFrom("ann", both, "bob")).toBe("ok");
    expect(textFrom("bob", both, "ann")).toBe("ok");
    expect(peersFrom("ann", both, [])).toEqual({ friends: new Set(["bob"]), listed: new Set(["bob"]), blocked: new Set() });
  });

  it("drops a blocked user from both sets, whichever side blocked", () => {
    const both = [...bobListsAnn, { userId: "ann", friendId: "bob" }];
    for (const block of [{ blocker: "ann", blocked: "bob" }, { blocker: "bob", blocked: "ann" }]) {
      expect(peersFrom("ann", both, [block])).toEqual({ friends: new Set(), listed: new Set(), blocked: new Set(["bob"]) });
      expect(textFrom("ann", both, "bob", [block])).toBe("blocked");
    }
  });

  it("ignores rows that do not name the user", () => {
    expect(peersFrom("cy", bobListsAnn, [])).toEqual({ friends: new Set(), listed: new Set(), blocked: new Set() });
  });
});
