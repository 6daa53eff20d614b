import { sql } from "drizzle-orm";
import {
  index,
  integer,
  primaryKey,
  sqliteTable,
  text,
  uniqueIndex
} from "drizzle-orm/sqlite-core";

/** Every account that may connect. `id` is the app's own user id (the JWT `sub`). */
export const users = sqliteTable("users", {
  id: text("id").primaryKey(),
  name: text("name"),
  createdAt: integer("created_at", { mode: "number" })
    .notNull()
    .default(sql`(unixepoch() * 1000)`)
});

/**
 * Friendship is mutual and stored as two directed rows (a→b and b→a), so
 * "friends of X" is one indexed range scan on the primary key.
 */
export const friendships = sqliteTable(
  "friendships",
  {
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    friendId: text("friend_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: integer("created_at", { mode: "number" })
      .notNull()
      .default(sql`(unixepoch() * 1000)`)
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.friendId] }),
    index("friendships_friend_idx").on(t.friendId)
  ]
);

export type UserRow = typeof users.$inferSelect;

/**
 * Groups. The GroupObject named by `id` is authoritative; these rows mirror
 * it (written through an outbox in the object) as the cross-group index.
 * `settings` is JSON ({@link GroupSettings} in src/protocol/groups.ts).
 */
export const groups = sqliteTable("groups", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  ownerId: text("owner_id").notNull(),
  settings: text("settings").notNull().default("{}"),
  createdAt: integer("created_at", { mode: "number" }).notNull(),
  dismissedAt: integer("dismissed_at", { mode: "number" })
});

/** Current members of live groups; `role` is owner | admin | member. */
export const groupMembers = sqliteTable(
  "group_members",
  {
    groupId: text("group_id")
      .notNull()
      .references(() => groups.id, { onDelete: "cascade" }),
    userId: text("user_id").notNull(),
    role: text("role", { enum: ["owner", "admin", "member"] }).notNull(),
    joinedAt: integer("joined_at", { mode: "number" }).notNull(),
    /** Muted until this time (ms); null when not muted. */
    mutedUntil: integer("muted_until", { mode: "number" })
  },
  (t) => [
    primaryKey({ columns: [t.groupId, t.userId] }),
    index("group_members_user_idx").on(t.userId)
  ]
);

export type GroupRow = typeof groups.$inferSelect;
export type GroupMemberRow = typeof groupMembers.$inferSelect;

/** Friend requests; a pending one per direction at most (enforced by the route). */
export const friendRequests = sqliteTable(
  "friend_requests",
  {
    id: text("id").primaryKey(),
    fromId: text("from_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    toId: text("to_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    message: text("message"),
    /** The two ids in sorted order, joined: the same for either direction. */
    pairKey: text("pair_key").notNull().default(""),
    status: text("status", { enum: ["pending", "accepted", "rejected"] }).notNull(),
    createdAt: integer("created_at", { mode: "number" }).notNull(),
    decidedAt: integer("decided_at", { mode: "number" })
  },
  (t) => [
    index("friend_requests_to_idx").on(t.toId, t.status),
    index("friend_requests_from_idx").on(t.fromId, t.status),
    // One pending request per pair of users, whichever way it goes.
    uniqueIndex("friend_requests_pending_pair").on(t.pairKey).where(sql`${t.status} = 'pending'`)
  ]
);

/** `blocker` refuses direct messages and friend requests with `blocked` (both ways). */
export const blocks = sqliteTable(
  "blocks",
  {
    blockerId: text("blocker_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    blockedId: text("blocked_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: integer("created_at", { mode: "number" }).notNull()
  },
  (t) => [primaryKey({ columns: [t.blockerId, t.blockedId] }), index("blocks_blocked_idx").on(t.blockedId)]
);

/**
 * Answers of pushes sent with an `Idempotency-Key`, replayed for 24 hours.
 * `status` 0 marks a request still running.
 */
export const idempotencyKeys = sqliteTable(
  "idempotency_keys",
  {
    key: text("key").primaryKey(),
    requestHash: text("request_hash").notNull(),
    /** The push id of this key's push: reused by a retry, fresh for a key reused after expiry. */
    pushId: text("push_id").notNull().default(""),
    status: integer("status").notNull(),
    response: text("response"),
    createdAt: integer("created_at", { mode: "number" }).notNull()
  },
  (t) => [index("idempotency_keys_created_idx").on(t.createdAt)]
);

export type FriendRequestRow = typeof friendRequests.$inferSelect;

/**
 * Media attachments (bytes in the MEDIA R2 bucket under `id`). A row is made
 * with its upload slot for one conversation (`chat`, `peer`: the other user or
 * the group); `uploadedAt` once the bytes are stored, `sentAt` once the one
 * message that may name it is stored, `deletedAt` once the object is gone
 * (recall, expiry, never sent).
 */
export const attachments = sqliteTable(
  "attachments",
  {
    id: text("id").primaryKey(),
    ownerId: text("owner_id").notNull(),
    chat: text("chat", { enum: ["dm", "group"] }).notNull(),
    peer: text("peer").notNull(),
    kind: text("kind", { enum: ["image", "voice", "video", "file"] }).notNull(),
    contentType: text("content_type").notNull(),
    size: integer("size", { mode: "number" }).notNull(),
    name: text("name"),
    createdAt: integer("created_at", { mode: "number" }).notNull(),
    /** Set by the one upload a slot takes, before its bytes are written. */
    uploadStartedAt: integer("upload_started_at", { mode: "number" }),
    uploadedAt: integer("uploaded_at", { mode: "number" }),
    /** The one message that names it: its sender's client id (a resend names it again), then its id. */
    cmid: text("cmid"),
    mid: text("mid"),
    sentAt: integer("sent_at", { mode: "number" }),
    deletedAt: integer("deleted_at", { mode: "number" })
  },
  (t) => [index("attachments_live_idx").on(t.deletedAt, t.createdAt)]
);

export type AttachmentRow = typeof attachments.$inferSelect;
