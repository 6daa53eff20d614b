import WebSocket from "ws";

/** The fields of a pushed or synced `message` event the bench reads: an inbox one has `seq`, a group's `gseq`. */
export interface MessageFrame {
  type: "message";
  seq?: number;
  gseq?: number;
  mid: string;
  chat: "dm" | "group";
  from: string;
  to: string;
  body: unknown;
}

export interface ReplyFrame {
  type: "reply";
  id: number | string | null;
  ok: boolean;
  result?: any;
  error?: { code: string; retryable: boolean; message: string };
}

/** Called for every `message` event: live pushes (`live` true) and catch-up/sync pages. */
export type OnMessage = (c: BenchClient, m: MessageFrame, live: boolean) => void;

export interface ConnectOptions {
  wsUrl: string;
  uid: string;
  token: string;
  device?: string;
  /** Connect with `?since=`; then `caughtUp` resolves once catch-up and any sync pages are done. */
  since?: number;
  onMessage?: OnMessage;
  timeoutMs?: number;
  /** Initial {@link BenchClient.tag}, set before any frame is handled. */
  tag?: number;
}

/**
 * One protocol connection, built for load: parses each frame once, keeps
 * only counters and the highest seq seen, and correlates replies by numeric id.
 * `connect` resolves on `welcome`; it rejects on handshake failure, close or timeout.
 */
export class BenchClient {
  readonly uid: string;
  readonly ws: WebSocket;
  /** Highest inbox seq seen in pushes, catch-up and sync pages. */
  lastSeq = 0;
  /** Groups this client has seen events of (group messages are stored once, in the group: synced by gid). */
  readonly groups = new Set<string>();
  /** The highest gseq seen per group, acked to the server twice a second at most, as the SDK does. */
  readonly #gseqs = new Map<string, number>();
  #ackTimer: NodeJS.Timeout | undefined;
  /** Inbox head reported by `welcome`. */
  head = 0;
  pongs = 0;
  /** Free for the scenario: e.g. this client's index among the receivers. */
  tag = -1;
  syncErrors = 0;
  closedCode: number | undefined;
  /** Resolves when catch-up (after `since`) reached more=false; already resolved without `since`. */
  caughtUp: Promise<void>;
  onMessage: OnMessage | undefined;
  #caughtUpResolve: (() => void) | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, (r: ReplyFrame) => void>();
  #out: string[] | undefined;

  private constructor(ws: WebSocket, uid: string, onMessage: OnMessage | undefined, withSince: boolean) {
    this.ws = ws;
    this.uid = uid;
    this.onMessage = onMessage;
    this.caughtUp = withSince ? new Promise((r) => (this.#caughtUpResolve = r)) : Promise.resolve();
  }

  static connect(o: ConnectOptions): Promise<BenchClient> {
    let url = `${o.wsUrl}?token=${o.token}&device=${o.device ?? "bench"}`;
    if (o.since !== undefined) url += `&since=${o.since}`;
    const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true, handshakeTimeout: o.timeoutMs ?? 60_000 });
    const c = new BenchClient(ws, o.uid, o.onMessage, o.since !== undefined);
    if (o.tag !== undefined) c.tag = o.tag;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error("welcome timeout")), o.timeoutMs ?? 60_000);
      const fail = (e: Error) => {
        clearTimeout(timer);
        ws.terminate();
        reject(e);
      };
      ws.on("unexpected-response", (_req, res) => fail(new Error(`http ${res.statusCode}`)));
      ws.on("error", (e) => fail(e));
      ws.on("close", (code) => {
        c.closedCode = code;
        fail(new Error(`closed ${code} before welcome`));
      });
      ws.on("message", (data) => {
        // The welcome may share its message with the catch-up page that follows it.
        const [first, ...rest] = data.toString().split("\n");
        const f = JSON.parse(first!);
        if (f.type !== "welcome") return fail(new Error(`first frame was ${f.type}`));
        clearTimeout(timer);
        c.head = f.head;
        ws.removeAllListeners("message");
        ws.removeAllListeners("error");
        ws.removeAllListeners("close");
        ws.removeAllListeners("unexpected-response");
        ws.on("error", () => {});
        ws.on("close", (code) => {
          c.closedCode = code;
          for (const [, cb] of c.#pending) cb({ type: "reply", id: null, ok: false, error: { code: "closed", retryable: true, message: "socket closed" } });
          c.#pending.clear();
        });
        ws.on("message", (d) => c.#onMessage(d.toString()));
        resolve(c);
        for (const line of rest) c.#onFrame(line);
      });
    });
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends `frame` with a fresh numeric id; `cb` gets the reply (or a synthetic `closed` error). */
  request(frame: Record<string, unknown>, cb: (r: ReplyFrame) => void): void {
    const id = this.#nextId++;
    this.#pending.set(id, cb);
    frame.id = id;
    this.#send(JSON.stringify(frame));
  }

  /**
   * Frames sent in the same tick leave as one newline-separated message, as
   * a protocol SDK batches them; a frame sent alone leaves alone.
   */
  #send(text: string): void {
    if (this.#out) {
      this.#out.push(text);
      return;
    }
    this.#out = [text];
    queueMicrotask(() => {
      const out = this.#out!;
      this.#out = undefined;
      if (this.ws.readyState === WebSocket.OPEN) this.ws.send(out.join("\n"));
    });
  }

  /** Promise form of {@link request}. */
  call(frame: Record<string, unknown>): Promise<ReplyFrame> {
    return new Promise((r) => this.request(frame, r));
  }

  /**
   * Pages the whole inbox after `after`, then the whole stream of each group
   * in `groups`, through `onMessage` (live=false), as a client does to
   * repair gaps; resolves false on an error reply.
   */
  async syncAll(after = 0, groups: Iterable<string> = this.groups): Promise<boolean> {
    for (;;) {
      const r = await this.call({ type: "sync", after, limit: 500 });
      if (!r.ok) return false;
      const { events, more } = r.result as { events: any[]; more: boolean };
      for (const e of events) {
        after = e.seq;
        if (e.type === "message") this.onMessage?.(this, e, false);
      }
      if (!more || events.length === 0) break;
    }
    for (const gid of [...groups]) {
      for (let g = 0; ; ) {
        const r = await this.call({ type: "sync", gid, after: g, limit: 500 });
        if (!r.ok) return false;
        const { events, more } = r.result as { events: any[]; more: boolean };
        for (const e of events) {
          g = e.gseq;
          if (e.type === "message") this.onMessage?.(this, e, false);
        }
        if (!more || events.length === 0) break;
      }
    }
    return true;
  }

  ping(): void {
    this.ws.send('{"type":"ping"}');
  }

  /** Abrupt drop without a close handshake (as when a server restarts). */
  terminate(): void {
    this.ws.terminate();
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000, "bye");
  }

  /** One message carries one frame or several, newline-separated. */
  #onMessage(text: string): void {
    if (!text.includes("\n")) return this.#onFrame(text);
    for (const line of text.split("\n")) this.#onFrame(line);
  }

  #onFrame(text: string): void {
    const f = JSON.parse(text);
    switch (f.type) {
      case "message":
        if (f.seq > this.lastSeq) this.lastSeq = f.seq;
        if (f.chat === "group") this.#sawGroup(f.to, f.gseq);
        this.onMessage?.(this, f, true);
        return;
      case "reply": {
        const cb = this.#pending.get(f.id);
        if (cb) {
          this.#pending.delete(f.id);
          cb(f);
        }
        return;
      }
      case "catchup":
        this.#page(f);
        return;
      case "group_catchup":
        this.#groupPage(f);
        return;
      case "pong":
        this.pongs++;
        return;
      default:
        if (typeof f.seq === "number" && f.seq > this.lastSeq) this.lastSeq = f.seq;
    }
  }

  /** Remembers how far this client got in `gid` and acks it soon (the server resumes a reconnect from there). */
  #sawGroup(gid: string, gseq: number | undefined): void {
    this.groups.add(gid);
    if (gseq === undefined || gseq <= (this.#gseqs.get(gid) ?? 0)) return;
    this.#gseqs.set(gid, gseq);
    this.#ackTimer ??= setTimeout(() => {
      this.#ackTimer = undefined;
      if (this.ws.readyState === WebSocket.OPEN) this.#send(JSON.stringify({ type: "ack", groups: Object.fromEntries(this.#gseqs) }));
    }, 500);
  }

  /** Applies one page of a group's stream and asks for the next while `more`. */
  #groupPage(p: { gid: string; events: any[]; more: boolean }): void {
    this.groups.add(p.gid);
    for (const e of p.events) {
      this.#sawGroup(p.gid, e.gseq);
      if (e.type === "message") this.onMessage?.(this, e, false);
    }
    const last = p.events.at(-1)?.gseq;
    if (!p.more || last === undefined) return;
    this.request({ type: "sync", gid: p.gid, after: last, limit: 500 }, (r) => {
      if (r.ok) return this.#groupPage(r.result);
      this.syncErrors++;
    });
  }

  /** Applies one catch-up/sync page and asks for the next while `more`. */
  #page(p: { events: any[]; more: boolean }): void {
    let pageEnd = -1;
    for (const e of p.events) {
      pageEnd = e.seq;
      if (e.seq > this.lastSeq) this.lastSeq = e.seq;
      if (e.type === "message") this.onMessage?.(this, e, false);
    }
    if (!p.more || pageEnd < 0) {
      this.#caughtUpResolve?.();
      return;
    }
    this.request({ type: "sync", after: pageEnd, limit: 500 }, (r) => {
      if (r.ok) return this.#page(r.result);
      this.syncErrors++;
      this.#caughtUpResolve?.(); // the scenario's audit reports what is missing
    });
  }
}
