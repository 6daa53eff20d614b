import { describe, expect, expectTypeOf, it } from "vitest";
import {
  CLIENT_FRAME_TYPES,
  type ClientFrameType,
  type ConversationPage,
  type GroupInfo,
  type GroupPage,
  REPLY_SCHEMAS,
  type ReplyOf,
  type ReplyTo,
  type SendAck,
  type SyncResult,
  type UpdateResult
} from "../../src/protocol";

/*
 * Each client frame type's reply `result` has one schema (REPLY_SCHEMAS).
 * The replies below are as the server sends them (shapes taken from the
 * handlers and the workerd flow tests); a drifted one must not parse.
 */

const MID = "01J8Z3K5QW7Y1V2B3N4M5P6R7S";
const T = 1_726_000_000_000;
const info: GroupInfo = {
  id: "g_team",
  name: "Team",
  owner: "alice",
  settings: { joinPolicy: "invite" },
  createdAt: T,
  dismissedAt: null,
  memberCount: 3,
  head: 4
};
const member = { uid: "bob", role: "member", joinedAt: T, mutedUntil: null } as const;
const message = { type: "message", mid: MID, chat: "dm", from: "alice", to: "bob", kind: "text", body: { text: "hi" }, ts: T } as const;

const AID = "a_01J8Z3K5QW7Y1V2B3N4M5P6R7S";

/** One real reply per frame type (the ones with two shapes, twice). */
const REPLIES: { [K in ClientFrameType]: unknown[] } = {
  send: [{ mid: MID, seq: 12, ts: T }, { mid: MID, ts: T, gseq: 8, prev: 7 }],
  sync: [
    { events: [{ ...message, seq: 3 }, { type: "receipt", seq: 4, eid: "e4", chat: "dm", from: "bob", to: "alice", mid: MID, ts: T }], more: false, head: 4 },
    { gid: "g_team", events: [{ ...message, chat: "group", to: "g_team", gseq: 5, prev: 4 }], more: true, head: 9, gap: { from: 1, to: 2 } }
  ],
  ack: [{ acked: 12 }, { groups: { g_team: 8 } }, {}],
  read: [{ seq: 13, unread: 0 }, { seq: null }],
  online: [{ friends: ["bob", "carol"] }],
  ping: [{ ts: T }],
  group_create: [info],
  group_join: [info],
  group_leave: [{ left: "g_team" }],
  group_invite: [{ invited: "dave" }],
  group_kick: [{ kicked: "dave" }],
  group_dismiss: [{ ...info, dismissedAt: T + 1 }],
  group_members: [{ members: [{ ...member, uid: "alice", role: "owner" }, member] }],
  group_role: [{ ...member, role: "admin", changed: true }],
  group_transfer: [{ ...info, owner: "bob" }],
  group_mute: [{ ...member, mutedUntil: T + 60_000 }],
  group_history: [
    {
      events: [
        { type: "group", eid: "e1", gid: "g_team", gseq: 1, action: "created", actor: "alice", name: "Team", ts: T },
        { ...message, chat: "group", to: "g_team", gseq: 2 },
        { type: "update", eid: "e3", op: "react", chat: "group", from: "bob", to: "g_team", mid: MID, ts: T, emoji: "👍", gseq: 3, mgseq: 2 }
      ],
      more: false
    }
  ],
  group_info: [info],
  group_settings: [{ ...info, settings: { joinPolicy: "open" } }],
  edit: [{ mid: MID, changed: true, version: 2 }],
  recall: [{ mid: MID, changed: true }],
  delete: [{ mid: MID, changed: false }],
  react: [{ mid: MID, changed: true, gseq: 10 }],
  forward: [{ mid: MID, seq: 14, ts: T }],
  edits: [{ mid: MID, versions: [{ version: 0, body: "first", at: T }, { version: 1, body: "second", at: T + 1 }] }],
  typing: [{ relayed: true }, { relayed: false }],
  conversations: [
    {
      conversations: [{ chat: "dm", peer: "bob", last: { ...message, seq: 3 }, lastAt: T, unread: 1, muted: false }],
      next: `${T}~d:bob`,
      totalUnread: 1
    }
  ],
  conversation_mute: [{ muted: true, changed: true }],
  search: [{ messages: [{ ...message, seq: 3 }, { ...message, chat: "group", to: "g_team", gseq: 2 }], next: MID }],
  group_reads: [{ mid: MID, read: ["bob"], unread: ["carol"] }],
  last_seen: [{ users: [{ uid: "bob", online: false, lastSeen: T }, { uid: "carol", online: true, lastSeen: null }] }, { users: [] }],
  privacy: [{ lastSeen: "nobody", changed: true }],
  dm_history: [{ messages: [{ ...message, seq: 3 }, { ...message, seq: 5, recalled: { by: "alice", at: T }, body: null }], more: false }],
  upload: [
    { attachment: AID, url: `/api/v1/media/${AID}?exp=1726000900&sig=abc`, method: "PUT", headers: { "content-type": "image/png" }, size: 1024, expiresAt: T + 900_000 }
  ],
  push_subscribe: [{ subscription: "ps_3f2a9c01d4e5b6a7", created: true }, { subscription: "ps_3f2a9c01d4e5b6a7", created: false }],
  push_unsubscribe: [{ removed: true }, { removed: false }],
  media_link: [
    { attachment: AID, url: `/api/v1/media/${AID}?exp=1726000300&sig=def`, expiresAt: T + 300_000, kind: "image", contentType: "image/png", size: 1024, name: null },
    { attachment: AID, url: `/api/v1/media/${AID}?exp=1726000300&sig=def`, expiresAt: T + 300_000, kind: "file", contentType: "application/pdf", size: 9, name: "a.pdf" }
  ]
};

describe("reply schemas", () => {
  it("has exactly one reply schema per client frame type", () => {
    expect(Object.keys(REPLY_SCHEMAS).sort()).toEqual([...CLIENT_FRAME_TYPES].sort());
  });

  it("parses the replies the server sends, to every frame type", () => {
    const failures: string[] = [];
    for (const type of CLIENT_FRAME_TYPES) {
      for (const reply of REPLIES[type]) {
        const r = REPLY_SCHEMAS[type].safeParse(reply);
        if (!r.success) failures.push(`${type}: ${r.error.message}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it("refuses replies that drifted from their schema", () => {
    expect(REPLY_SCHEMAS.send.safeParse({ seq: 12, ts: T }).success).toBe(false); // no mid
    expect(REPLY_SCHEMAS.group_info.safeParse({ ...info, memberCount: "3" }).success).toBe(false);
    expect(REPLY_SCHEMAS.read.safeParse({ unread: 0 }).success).toBe(false); // seq must be given, null or not
    expect(REPLY_SCHEMAS.sync.safeParse({ events: [{ type: "nope", seq: 1 }], more: false, head: 1 }).success).toBe(false);
    expect(REPLY_SCHEMAS.group_history.safeParse({ events: [{ ...message, seq: 3, body: undefined }], more: false }).success).toBe(false);
    expect(REPLY_SCHEMAS.group_role.safeParse(member).success).toBe(false); // no `changed`
    expect(REPLY_SCHEMAS.typing.safeParse({}).success).toBe(false);
  });

  it("types each reply as the result type the handlers and the SDK use", () => {
    expectTypeOf<ReplyOf<"send">>().toEqualTypeOf<SendAck>();
    expectTypeOf<ReplyOf<"forward">>().toEqualTypeOf<SendAck>();
    expectTypeOf<ReplyOf<"edit">>().toEqualTypeOf<UpdateResult>();
    expectTypeOf<ReplyOf<"group_create">>().toEqualTypeOf<GroupInfo>();
    expectTypeOf<ReplyOf<"conversations">>().toEqualTypeOf<ConversationPage>();
    expectTypeOf<ReplyOf<"sync">>().toEqualTypeOf<SyncResult | GroupPage>();
    expectTypeOf<ReplyTo<{ type: "sync"; after: number }>>().toEqualTypeOf<SyncResult>();
    expectTypeOf<ReplyTo<{ type: "sync"; gid: string; after: number }>>().toEqualTypeOf<GroupPage>();
    expectTypeOf<ReplyTo<{ type: "online" }>>().toEqualTypeOf<{ friends: string[] }>();
  });
});
