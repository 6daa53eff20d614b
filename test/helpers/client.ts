import { REPLY_SCHEMAS, type ReplyFrame, type ServerFrame } from "../../src/protocol";

/** The WHATWG WebSocket surface shared by workerd and Node 22. */
export interface SocketLike {
  readyState: number;
  send(data: string | Uint8Array<ArrayBuffer>): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "message", fn: (e: { data: unknown }) => void): void;
  addEventListener(type: "close", fn: (e: { code: number; reason: string }) => void): void;
}

interface Waiter {
  pred: (f: ServerFrame) => boolean;
  resolve: (f: ServerFrame) => void;
}

/** Every wait in tests has a deadline; a hang becomes a failure with context. */
export const WAIT_MS = 5_000;

/**
 * A protocol client for tests: records every frame, lets a test take the
 * first unconsumed frame matching a predicate, and correlates requests.
 */
export class ImClient {
  /** Every frame received, in arrival order. */
  readonly frames: ServerFrame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly #taken = new Set<number>();
  readonly #waiters: Waiter[] = [];
  #nextId = 1;

  constructor(readonly ws: SocketLike) {
    ws.addEventListener("message", (e) => {
      // One message may carry several newline-separated frames.
      for (const line of String(e.data).split("\n")) this.#receive(JSON.parse(line) as ServerFrame);
    });
    this.closed = new Promise((resolve) =>
      ws.addEventListener("close", (e) => resolve({ code: e.code, reason: e.reason }))
    );
  }

  /** Records one frame and hands it to the first waiter it matches. */
  #receive(frame: ServerFrame): void {
    const index = this.frames.push(frame) - 1;
    const w = this.#waiters.findIndex((w) => w.pred(frame));
    if (w >= 0) {
      this.#taken.add(index);
      this.#waiters.splice(w, 1)[0]!.resolve(frame);
    }
  }

  /** Sends a frame object as JSON, or a raw string/binary as is. */
  send(frame: object | string | Uint8Array<ArrayBuffer>): void {
    this.ws.send(typeof frame === "object" && !(frame instanceof Uint8Array) ? JSON.stringify(frame) : frame);
  }

  /** The first not-yet-taken frame matching `pred`, waiting up to `ms` for it. */
  take<F extends ServerFrame = ServerFrame>(
    pred: (f: ServerFrame) => boolean,
    what = "a matching frame",
    ms = WAIT_MS
  ): Promise<F> {
    const i = this.frames.findIndex((f, i) => !this.#taken.has(i) && pred(f));
    if (i >= 0) {
      this.#taken.add(i);
      return Promise.resolve(this.frames[i] as F);
    }
    return new Promise<F>((resolve, reject) => {
      const waiter: Waiter = { pred, resolve: (f) => { clearTimeout(timer); resolve(f as F); } };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`timed out after ${ms} ms waiting for ${what}; got ${JSON.stringify(this.frames)}`));
      }, ms);
      this.#waiters.push(waiter);
    });
  }

  /** Takes the next frame of `type` (optionally also matching `pred`). */
  next<T extends ServerFrame["type"]>(
    type: T,
    pred: (f: Extract<ServerFrame, { type: T }>) => boolean = () => true
  ): Promise<Extract<ServerFrame, { type: T }>> {
    return this.take((f) => f.type === type && pred(f as Extract<ServerFrame, { type: T }>), `a ${type} frame`);
  }

  /** Sends `frame` with a fresh id and resolves with the correlated reply. */
  async request(frame: Record<string, unknown>): Promise<ReplyFrame> {
    const id = `r${this.#nextId++}`;
    this.send({ ...frame, id });
    return this.take<ReplyFrame>((f) => f.type === "reply" && f.id === id, `reply ${id} to ${String(frame.type)}`);
  }

  /**
   * Like {@link request} but fails unless the reply is ok and its result
   * fits the frame type's reply schema (REPLY_SCHEMAS: what the SDK's types
   * promise), so every test checks the real replies against the types.
   */
  async ok<T = unknown>(frame: Record<string, unknown>): Promise<T> {
    const reply = await this.request(frame);
    if (!reply.ok) throw new Error(`expected ok for ${JSON.stringify(frame)}, got ${JSON.stringify(reply.error)}`);
    const schema = REPLY_SCHEMAS[frame.type as keyof typeof REPLY_SCHEMAS];
    const checked = schema?.safeParse(reply.result);
    if (checked && !checked.success) {
      throw new Error(`reply to ${String(frame.type)} does not fit its schema: ${checked.error.message}\n${JSON.stringify(reply.result)}`);
    }
    return reply.result as T;
  }

  /** Frames received so far matching `pred`, taken or not. */
  seen(pred: (f: ServerFrame) => boolean): ServerFrame[] {
    return this.frames.filter(pred);
  }

  close(code = 1000, reason = "bye"): void {
    this.ws.close(code, reason);
  }
}
