/** A small typed event emitter: `on` returns the function that unsubscribes. */
export class Emitter<Events extends { [K in keyof Events]: unknown }> {
  readonly #listeners = new Map<keyof Events, Set<(value: never) => void>>();

  on<K extends keyof Events>(type: K, fn: (value: Events[K]) => void): () => void {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, (set = new Set()));
    set.add(fn as (value: never) => void);
    return () => set.delete(fn as (value: never) => void);
  }

  emit<K extends keyof Events>(type: K, value: Events[K]): void {
    for (const fn of this.#listeners.get(type) ?? []) {
      try {
        (fn as (value: Events[K]) => void)(value);
      } catch (err) {
        // A listener's bug must not break the connection: report it and go on.
        console.error(`listener for ${String(type)} failed`, err);
      }
    }
  }
}
