/**
 * Where the client keeps its position, so a reconnect (or a reload, with a
 * persistent store) resumes after it: the last inbox seq it delivered, and
 * per group the last gseq (group events are stored once, in the group, and
 * ordered within it). `loadGroups`/`saveGroup` are optional: without them
 * the server's record of what this device acknowledged is where a reload
 * resumes, and a few group events may be delivered again.
 */
export interface SeqStore {
  load(): number | Promise<number>;
  save(seq: number): void | Promise<void>;
  loadGroups?(): Record<string, number> | Promise<Record<string, number>>;
  saveGroup?(gid: string, gseq: number): void | Promise<void>;
}

/** The default: forgets on reload, so a new page starts from the whole inbox. */
export class MemoryStore implements SeqStore {
  #seq = 0;
  #groups: Record<string, number> = {};
  load(): number {
    return this.#seq;
  }
  save(seq: number): void {
    this.#seq = seq;
  }
  loadGroups(): Record<string, number> {
    return { ...this.#groups };
  }
  saveGroup(gid: string, gseq: number): void {
    this.#groups[gid] = gseq;
  }
}

interface KeyValue {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}
const storage = () => (globalThis as { localStorage?: KeyValue }).localStorage;

/** Keeps the seq in `localStorage` (browsers) under `key`, and the group positions under `key:groups`. */
export class LocalStorageStore implements SeqStore {
  constructor(private readonly key: string) {}
  load(): number {
    const v = Number(storage()?.getItem(this.key) ?? 0);
    return Number.isSafeInteger(v) && v >= 0 ? v : 0;
  }
  save(seq: number): void {
    storage()?.setItem(this.key, String(seq));
  }
  loadGroups(): Record<string, number> {
    try {
      const v = JSON.parse(storage()?.getItem(`${this.key}:groups`) ?? "{}") as unknown;
      if (typeof v !== "object" || v === null || Array.isArray(v)) return {};
      return Object.fromEntries(Object.entries(v).filter(([, n]) => Number.isSafeInteger(n) && (n as number) >= 0)) as Record<string, number>;
    } catch {
      return {};
    }
  }
  saveGroup(gid: string, gseq: number): void {
    const all = this.loadGroups();
    all[gid] = gseq;
    storage()?.setItem(`${this.key}:groups`, JSON.stringify(all));
  }
}
