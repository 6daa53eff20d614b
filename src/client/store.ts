/**
 * Where the client keeps the last inbox seq it delivered to the app, so a
 * reconnect (or a reload, with a persistent store) resumes after it.
 */
export interface SeqStore {
  load(): number | Promise<number>;
  save(seq: number): void | Promise<void>;
}

/** The default: forgets on reload, so a new page starts from the whole inbox. */
export class MemoryStore implements SeqStore {
  #seq = 0;
  load(): number {
    return this.#seq;
  }
  save(seq: number): void {
    this.#seq = seq;
  }
}

interface KeyValue {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}
const storage = () => (globalThis as { localStorage?: KeyValue }).localStorage;

/** Keeps the seq in `localStorage` (browsers) under `key`. */
export class LocalStorageStore implements SeqStore {
  constructor(private readonly key: string) {}
  load(): number {
    const v = Number(storage()?.getItem(this.key) ?? 0);
    return Number.isSafeInteger(v) && v >= 0 ? v : 0;
  }
  save(seq: number): void {
    storage()?.setItem(this.key, String(seq));
  }
}
