/** Who may see when a user was last online: their friends (the default), or nobody. */
export type LastSeenVisibility = "friends" | "nobody";

const KV_LAST_SEEN = "privacy.lastSeen";

/** A user's privacy settings, in their object's KV (one read per presence change, cached). */
export class Privacy {
  #lastSeen: LastSeenVisibility | undefined;

  constructor(private readonly kv: SyncKvStorage) {}

  lastSeen(): LastSeenVisibility {
    this.#lastSeen ??= this.kv.get<LastSeenVisibility>(KV_LAST_SEEN) ?? "friends";
    return this.#lastSeen;
  }

  /** Stores the setting; whether it changed. */
  setLastSeen(v: LastSeenVisibility): boolean {
    if (this.lastSeen() === v) return false;
    if (v === "friends") this.kv.delete(KV_LAST_SEEN);
    else this.kv.put(KV_LAST_SEEN, v);
    this.#lastSeen = v;
    return true;
  }
}
