import type { Db } from "../db/client";
import { getUser } from "../db/users";

/** Set by a delete: this user was deleted. */
const KV_DELETED = "user.deleted";
/** When the id was created again after a delete (ms): tokens issued before it are the old account's. */
const KV_RECREATED = "user.recreated";
/** Set while the user is banned: `{at, reason}`. */
const KV_BANNED = "user.banned";
/** Tokens issued before this (ms) are revoked: a ban, or the backend revoking them all. */
const KV_REVOKED_BEFORE = "user.revokedBefore";
/** Revoked token ids, each until its expiry (unix s), so the list prunes itself. */
const KV_REVOKED_JTIS = "user.revokedJtis";

/** A ban as the backend set it. */
export interface Ban {
  at: number;
  reason?: string;
}

/**
 * Whether a user object's account still stands, kept in its KV: the
 * tombstone a delete leaves (deliveries still in flight are dropped, not
 * stored), and when a deleted id was created again (a new account, which the
 * old account's tokens must not open).
 */
export class Account {
  /** Cached: only this object changes it. */
  #tombstone: boolean | undefined;

  constructor(
    private readonly kv: SyncKvStorage,
    private readonly db: Db,
    private readonly uid: () => string
  ) {}

  /**
   * Whether this user was deleted. The tombstone is lifted (once) when D1
   * shows the id was created again, so a new account starts clean.
   */
  async deleted(): Promise<boolean> {
    this.#tombstone ??= this.kv.get(KV_DELETED) === true;
    if (!this.#tombstone) return false;
    const user = await getUser(this.db, this.uid());
    if (!user) return true;
    this.kv.put(KV_RECREATED, user.createdAt);
    this.kv.delete(KV_DELETED);
    this.#tombstone = false;
    return false;
  }

  /** Leaves the tombstone, in storage just erased. */
  markDeleted(): void {
    this.kv.put(KV_DELETED, true);
    this.#tombstone = true;
  }

  /** The ban standing against this user, if any. */
  ban(): Ban | undefined {
    return this.kv.get<Ban>(KV_BANNED);
  }

  /** Bans the user: every token issued so far is revoked too, so an unban needs new ones. */
  setBan(ban: Ban): void {
    this.kv.put(KV_BANNED, ban);
    this.revokeAll(ban.at);
  }

  /** Lifts a ban; the tokens it revoked stay revoked. */
  liftBan(): boolean {
    return this.kv.delete(KV_BANNED);
  }

  /** Revokes every token issued before `at` (ms). */
  revokeAll(at: number): void {
    this.kv.put(KV_REVOKED_BEFORE, Math.max(at, this.kv.get<number>(KV_REVOKED_BEFORE) ?? 0));
  }

  /** Revokes the token `jti` (until `exp`, unix s, after which it is dead anyway). */
  revoke(jti: string, exp: number, now: number): void {
    const live = Object.entries(this.kv.get<Record<string, number>>(KV_REVOKED_JTIS) ?? {}).filter(([, e]) => e * 1000 > now);
    this.kv.put(KV_REVOKED_JTIS, Object.fromEntries([...live, [jti, exp]]));
  }

  /**
   * Whether a token was revoked: by its id, or issued before a revocation of
   * all (a token without `iat` counts as issued before any).
   */
  revoked(token: { jti?: string; iat?: number }): boolean {
    const before = this.kv.get<number>(KV_REVOKED_BEFORE);
    if (before !== undefined && (token.iat === undefined || token.iat * 1000 < before)) return true;
    return token.jti !== undefined && (this.kv.get<Record<string, number>>(KV_REVOKED_JTIS) ?? {})[token.jti] !== undefined;
  }

  /**
   * Whether a token issued at `iat` (unix seconds) is from before this id was
   * created again, so an earlier account's. A second of slack: D1 stores
   * creation times in whole seconds.
   */
  predates(iat: number): boolean {
    const recreated = this.kv.get<number>(KV_RECREATED);
    return recreated !== undefined && iat * 1000 < recreated - 1000;
  }
}
