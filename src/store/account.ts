import type { Db } from "../db/client";
import { getUser } from "../db/users";

/** Set by a delete: this user was deleted. */
const KV_DELETED = "user.deleted";
/** When the id was created again after a delete (ms): tokens issued before it are the old account's. */
const KV_RECREATED = "user.recreated";

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
