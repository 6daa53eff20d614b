import { type SocketLike, WAIT_MS as WAIT } from "./client";

export type Frame = Record<string, unknown>;

/**
 * A client of `/ws/compat` as the seed's clients are: every message it gets
 * must be exactly one JSON object (they `JSON.parse(e.data)`), which this
 * helper asserts by recording a parse failure as a frame of type `__bad`.
 */
export class SeedClient {
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number }>;
  readonly #taken = new Set<number>();
  readonly #waiters: { pred: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];

  constructor(
    readonly ws: SocketLike,
    readonly uid: string,
    /** This socket's GatewayWorker client id, as `heart` answers name it. */
    readonly client: string
  ) {
    ws.addEventListener("message", (e) => {
      let f: Frame;
      try {
        const v = JSON.parse(String(e.data)) as unknown;
        f = typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Frame) : { type: "__bad", data: e.data };
      } catch {
        f = { type: "__bad", data: e.data };
      }
      const i = this.frames.push(f) - 1;
      const w = this.#waiters.findIndex((w) => w.pred(f));
      if (w >= 0) {
        this.#taken.add(i);
        this.#waiters.splice(w, 1)[0]!.resolve(f);
      }
    });
    this.closed = new Promise((resolve) => ws.addEventListener("close", (e) => resolve({ code: e.code })));
  }

  /** Sends a frame as JSON (or a raw string), with `fromUid` defaulting to this user. */
  send(frame: Frame | string): void {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify({ fromUid: this.uid, ...frame }));
  }

  /** The first not-yet-taken frame matching `pred`. */
  take(pred: (f: Frame) => boolean, what = "a matching frame", ms = WAIT): Promise<Frame> {
    const i = this.frames.findIndex((f, i) => !this.#taken.has(i) && pred(f));
    if (i >= 0) {
      this.#taken.add(i);
      return Promise.resolve(this.frames[i]!);
    }
    return new Promise((resolve, reject) => {
      const waiter = { pred, resolve: (f: Frame) => { clearTimeout(timer); resolve(f); } };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`${this.uid}: timed out waiting for ${what}; got ${JSON.stringify(this.frames)}`));
      }, ms);
      this.#waiters.push(waiter);
    });
  }

  next(type: string, pred: (f: Frame) => boolean = () => true): Promise<Frame> {
    return this.take((f) => f.type === type && pred(f), `a ${type} frame`);
  }

  /**
   * A heart round trip: every frame the server sent before its answer has
   * arrived (one socket, in order), so `seen` is then complete. Every compat
   * socket of the user gets each heart answer: this waits for its own.
   */
  async settle(): Promise<void> {
    this.send({ type: "heart" });
    await this.next("heart", (f) => f.client === this.client);
  }

  seen(type: string): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }

  close(code = 1000): void {
    this.ws.close(code, "bye");
  }
}
