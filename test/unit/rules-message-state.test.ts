import { describe, expect, it } from "vitest";
import { MAX_EDITS, MAX_REACTION_KINDS, type MessageEvent, ProtocolError, QUOTE_CHARS, type UpdateEvent } from "../../src/protocol";
import {
  applyUpdate,
  assertNotRecalled,
  bodyChanged,
  convKey,
  decideUpdate,
  originOf,
  peerOf,
  quoteOf,
  textOf,
  type UpdateActor
} from "../../src/rules/message-state";

const MID = "01J0000000000000000000000A";
const T0 = 1_700_000_000_000;
const WINDOW = 120_000;

/** A direct message from alice to bob. */
function msg(extra: Partial<MessageEvent> = {}): MessageEvent {
  return { type: "message", seq: 7, mid: MID, chat: "dm", from: "alice", to: "bob", kind: "text", body: { text: "hello" }, ts: T0, ...extra };
}
function actor(uid: string, extra: Partial<UpdateActor> = {}): UpdateActor {
  return { uid, moderator: false, now: T0 + 1_000, recallWindowMs: WINDOW, ...extra };
}
function update(extra: Partial<UpdateEvent> & Pick<UpdateEvent, "op">): UpdateEvent {
  return { type: "update", seq: 9, eid: "e1", chat: "dm", from: "alice", to: "bob", mid: MID, ts: T0 + 5_000, ...extra };
}
/** The code a call throws as a ProtocolError, or undefined when it does not throw. */
function refusal(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    return (err as ProtocolError).code;
  }
  return undefined;
}

describe("decideUpdate", () => {
  it("lets the author edit, numbering the versions from the message's", () => {
    expect(decideUpdate(msg(), { op: "edit", body: "new" }, actor("alice"))).toEqual({ op: "edit", body: "new", version: 1 });
    expect(decideUpdate(msg({ edited: 3 }), { op: "edit", body: "new" }, actor("alice"))).toEqual({ op: "edit", body: "new", version: 4 });
  });

  it("refuses an edit by anyone else, even a moderator", () => {
    expect(refusal(() => decideUpdate(msg(), { op: "edit", body: "x" }, actor("bob")))).toBe("not_author");
    expect(refusal(() => decideUpdate(msg(), { op: "edit", body: "x" }, actor("bob", { moderator: true })))).toBe("not_author");
  });

  it("changes nothing for an edit to the body the message has (a retried edit)", () => {
    expect(decideUpdate(msg(), { op: "edit", body: { text: "hello" } }, actor("alice"))).toBeUndefined();
  });

  it("refuses the edit after MAX_EDITS", () => {
    expect(decideUpdate(msg({ edited: MAX_EDITS - 1 }), { op: "edit", body: "x" }, actor("alice"))?.version).toBe(MAX_EDITS);
    expect(refusal(() => decideUpdate(msg({ edited: MAX_EDITS }), { op: "edit", body: "x" }, actor("alice")))).toBe("bad_request");
  });

  it("lets the author recall within the window and not after it", () => {
    expect(decideUpdate(msg(), { op: "recall" }, actor("alice", { now: T0 + WINDOW }))).toEqual({ op: "recall" });
    expect(refusal(() => decideUpdate(msg(), { op: "recall" }, actor("alice", { now: T0 + WINDOW + 1 })))).toBe("recall_expired");
  });

  it("lets a moderator recall anyone's message at any time, and nobody else", () => {
    expect(decideUpdate(msg(), { op: "recall" }, actor("bob", { moderator: true, now: T0 + 10 * WINDOW }))).toEqual({ op: "recall" });
    expect(refusal(() => decideUpdate(msg(), { op: "recall" }, actor("bob")))).toBe("not_author");
  });

  it("treats a second recall as a repeat and refuses anything else on a recalled message", () => {
    const recalled = msg({ recalled: { by: "alice", at: T0 + 10 }, body: null });
    expect(decideUpdate(recalled, { op: "recall" }, actor("alice"))).toBeUndefined();
    expect(refusal(() => decideUpdate(recalled, { op: "edit", body: "x" }, actor("alice")))).toBe("message_recalled");
    expect(refusal(() => decideUpdate(recalled, { op: "react", emoji: "👍" }, actor("bob")))).toBe("message_recalled");
  });

  it("adds a reaction once and removes only one that is there", () => {
    expect(decideUpdate(msg(), { op: "react", emoji: "👍" }, actor("bob"))).toEqual({ op: "react", emoji: "👍" });
    const reacted = msg({ reactions: { "👍": ["bob"] } });
    expect(decideUpdate(reacted, { op: "react", emoji: "👍" }, actor("bob"))).toBeUndefined();
    expect(decideUpdate(reacted, { op: "unreact", emoji: "👍" }, actor("bob"))).toEqual({ op: "unreact", emoji: "👍" });
    expect(decideUpdate(msg(), { op: "unreact", emoji: "👍" }, actor("bob"))).toBeUndefined();
  });

  it("caps the distinct emoji, but not more users on one already there", () => {
    const reactions = Object.fromEntries(Array.from({ length: MAX_REACTION_KINDS }, (_, i) => [`e${i}`, ["carol"]]));
    const full = msg({ reactions });
    expect(refusal(() => decideUpdate(full, { op: "react", emoji: "new" }, actor("bob")))).toBe("too_many_reactions");
    expect(decideUpdate(full, { op: "react", emoji: "e0" }, actor("bob"))).toEqual({ op: "react", emoji: "e0" });
  });

  it("reads only own keys of the reactions, so an emoji named like an Object property is just an emoji", () => {
    expect(decideUpdate(msg(), { op: "react", emoji: "constructor" }, actor("bob"))).toEqual({ op: "react", emoji: "constructor" });
    expect(decideUpdate(msg(), { op: "unreact", emoji: "toString" }, actor("bob"))).toBeUndefined();
  });
});

describe("applyUpdate", () => {
  it("applies a newer edit and ignores an older or repeated one", () => {
    const edited = applyUpdate(msg(), update({ op: "edit", body: "v1", version: 1 }));
    expect(edited).toMatchObject({ body: "v1", edited: 1, editedAt: T0 + 5_000 });
    expect(applyUpdate(edited!, update({ op: "edit", body: "v1", version: 1 }))).toBeUndefined();
    expect(applyUpdate(msg({ edited: 2 }), update({ op: "edit", body: "old", version: 1 }))).toBeUndefined();
  });

  it("ignores an edit without a body (scrubbed by a later recall)", () => {
    expect(applyUpdate(msg(), update({ op: "edit", version: 1 }))).toBeUndefined();
  });

  it("recalls: the body, reactions, edits and quote go; who and when stay", () => {
    const m = msg({ reactions: { "👍": ["bob"] }, edited: 1, editedAt: T0 + 1, reply: { mid: MID, from: "bob", kind: "text", text: "q" } });
    const r = applyUpdate(m, update({ op: "recall", from: "alice" }));
    expect(r).toEqual({ ...msg(), body: null, recalled: { by: "alice", at: T0 + 5_000 } });
  });

  it("does nothing more to a recalled message but delete it for me", () => {
    const recalled = applyUpdate(msg(), update({ op: "recall" }))!;
    expect(applyUpdate(recalled, update({ op: "react", emoji: "👍", from: "bob" }))).toBeUndefined();
    expect(applyUpdate(recalled, update({ op: "edit", body: "x", version: 1 }))).toBeUndefined();
    expect(applyUpdate(recalled, update({ op: "delete" }))).toMatchObject({ deleted: true, body: null });
  });

  it("deletes once; a deleted copy takes no reaction or edit", () => {
    const deleted = applyUpdate(msg({ reactions: { "👍": ["bob"] } }), update({ op: "delete" }))!;
    expect(deleted).toEqual({ ...msg(), body: null, deleted: true });
    expect(applyUpdate(deleted, update({ op: "delete" }))).toBeUndefined();
    expect(applyUpdate(deleted, update({ op: "react", emoji: "👍" }))).toBeUndefined();
    expect(applyUpdate(deleted, update({ op: "edit", body: "x", version: 1 }))).toBeUndefined();
  });

  it("adds and removes reactors, dropping an emoji (and the field) when nobody is left", () => {
    const one = applyUpdate(msg(), update({ op: "react", emoji: "👍", from: "bob" }))!;
    expect(one.reactions).toEqual({ "👍": ["bob"] });
    const two = applyUpdate(one, update({ op: "react", emoji: "👍", from: "carol" }))!;
    expect(two.reactions).toEqual({ "👍": ["bob", "carol"] });
    expect(applyUpdate(two, update({ op: "react", emoji: "👍", from: "bob" }))).toBeUndefined();
    const back = applyUpdate(two, update({ op: "unreact", emoji: "👍", from: "carol" }))!;
    expect(back.reactions).toEqual({ "👍": ["bob"] });
    const none = applyUpdate(back, update({ op: "unreact", emoji: "👍", from: "bob" }))!;
    expect("reactions" in none).toBe(false);
  });

  it("keeps an emoji named __proto__ as a plain key", () => {
    const r = applyUpdate(msg(), update({ op: "react", emoji: "__proto__", from: "bob" }))!;
    expect(Object.keys(r.reactions!)).toEqual(["__proto__"]);
    expect(r.reactions!["__proto__"]).toEqual(["bob"]);
  });

  it("never changes the copy it was given", () => {
    const m = msg({ reactions: { "👍": ["bob"] } });
    const before = structuredClone(m);
    applyUpdate(m, update({ op: "react", emoji: "👍", from: "carol" }));
    applyUpdate(m, update({ op: "recall" }));
    expect(m).toEqual(before);
  });
});

describe("assertNotRecalled and bodyChanged", () => {
  it("refuses only a recalled message", () => {
    expect(refusal(() => assertNotRecalled(msg()))).toBeUndefined();
    expect(refusal(() => assertNotRecalled(msg({ recalled: { by: "alice", at: T0 } })))).toBe("message_recalled");
  });

  it("says the body changed once edited, recalled or deleted", () => {
    expect(bodyChanged(msg())).toBe(false);
    expect(bodyChanged(msg({ edited: 1 }))).toBe(true);
    expect(bodyChanged(msg({ recalled: { by: "alice", at: T0 } }))).toBe(true);
    expect(bodyChanged(msg({ deleted: true }))).toBe(true);
  });
});

describe("textOf and quoteOf", () => {
  it("finds the text of a string body or an object's `text`, else null", () => {
    expect(textOf("plain")).toBe("plain");
    expect(textOf({ text: "inside", url: "x" })).toBe("inside");
    expect(textOf({ text: 5 })).toBeNull();
    expect(textOf(["text"])).toBeNull();
    expect(textOf(null)).toBeNull();
    expect(textOf(42)).toBeNull();
  });

  it("quotes the id, sender, kind and the first QUOTE_CHARS characters of the text", () => {
    const long = "x".repeat(QUOTE_CHARS + 30);
    expect(quoteOf(msg({ body: long, kind: "note" }))).toEqual({ mid: MID, from: "alice", kind: "note", text: "x".repeat(QUOTE_CHARS) });
    expect(quoteOf(msg({ body: { image: "a.png" } })).text).toBeNull();
  });
});

describe("originOf", () => {
  it("is the message itself, or the first origin of a forward of a forward", () => {
    expect(originOf(msg())).toEqual({ mid: MID, from: "alice", chat: "dm", ts: T0 });
    const first = { mid: "01J0000000000000000000000B", from: "carol", chat: "group" as const, ts: T0 - 1 };
    expect(originOf(msg({ forwarded: first }))).toEqual(first);
  });
});

describe("peerOf and convKey", () => {
  it("names the other side of a direct chat from either side, and the group for a group chat", () => {
    const dm = { chat: "dm" as const, from: "alice", to: "bob" };
    expect(peerOf("alice", dm)).toBe("bob");
    expect(peerOf("bob", dm)).toBe("alice");
    expect(peerOf("alice", { chat: "group", from: "alice", to: "g_1" })).toBe("g_1");
    expect(peerOf("bob", { chat: "group", from: "alice", to: "g_1" })).toBe("g_1");
  });

  it("keys direct and group conversations apart even for the same id", () => {
    expect(convKey("dm", "x")).toBe("d:x");
    expect(convKey("group", "x")).toBe("g:x");
  });
});
