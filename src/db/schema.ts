import { sql } from "drizzle-orm";
import {
  index,
  integer,
  primaryKey,
  sqliteTable,
  text
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
