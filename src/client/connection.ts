import { CLOSE, shouldReconnect } from "../protocol/close-codes";
import { HEARTBEAT_REQUEST, HEARTBEAT_RESPONSE } from "../protocol/heartbeat";
import type {
  ClientRequest,
  ClientRequestOf,
  GroupPage,
  GroupStreamEvent,
  InboxEvent,
  PresenceFrame,
  ReplyFrame,
  ReplyOf,
  ReplyTo,
  SyncResult,
  TypingEvent,
  WelcomeFrame
} from "../protocol";
import { type BackoffOptions, backoffDelay } from "./backoff";
import { Emitter } from "./emitter";
import { ImError } from "./errors";
import type { ClientEvents, ConnectionState } from "./events";
import { Outbox } from "./outbox";
import { TypingExpiry } from "./typing";
import { InOrderDelivery } from "./delivery";
import { MemoryStore, type SeqStore } from "./store";
import { batchFrames, randomId, type SocketFactory, type SocketLike, stopTimer, SUBPROTOCOL } from "./wire";

export interface ClientOptions {
  /** The server's WebSocket endpoint, e.g. `wss://im.example.com/ws`. */
  url: string;
  /** A token, or a function called before every (re)connect: return a fresh one to refresh. */
  token: string | (() => string | Promise<string>);
  /** This connection's device id (default: random per client instance). */
  device?: string;
  /** Where the last delivered seq is kept (default: memory). */
  store?: SeqStore;
  /** The WebSocket class (default: `globalThis.WebSocket`). */
  WebSocket?: SocketFactory;
  reconnect?: BackoffOptions;
  /** A message not acknowledged within this long is rejected with `timeout` (default 30 000 ms). */
  sendTimeoutMs?: number;
  /** Most messages waiting for their ack, and separately most requests waiting; more are rejected with `queue_full` (default 500). */
  maxQueue?: number;
  /** Heartbeat interval; a socket silent for twice this long is replaced (default 25 000 ms). */
  pingMs?: number;
}

interface Pending {
  frame: ClientRequest & { id: string };
  sent: boolean;
  resolve: (v: unknown) => void;
  reject: (e: ImError) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** An upgrade that has not produced a welcome by then is abandoned. */
const WELCOME_TIMEOUT_MS = 10_000;

/**
 * The connection under {@link EdgeImClient}: connects with a token,
 * reconnects with jittered backoff, resumes from the last seq it delivered
 * (gaps are filled with `sync`), delivers every durable event exactly once
 * and in order, acks what it delivered, and sends through a bounded queue
 * where each message keeps its `cmid` across retries, so it is never stored
 * twice. Requests other than messages go through {@link request}.
 */
export class ClientConnection {
  readonly device: string;
  readonly #o: Required<Pick<ClientOptions, "sendTimeoutMs" | "maxQueue" | "pingMs">> & ClientOptions;
  readonly #events = new Emitter<ClientEvents>();
  readonly #delivery: InOrderDelivery;
  readonly #outbox: Outbox;
  readonly #requests = new Map<string, Pending>();
  readonly #typing = new TypingExpiry((t) => this.#events.emit("typing", t));
  #ws: SocketLike | undefined;
  #state: ConnectionState = "idle";
  #attempt = 0;
  #nextId = 1;
  #lastRx = 0;
  /** Bumped by connect/pause/close: an `#open` from an older generation stops at its next step. */
  #gen = 0;
  #maxFrameBytes = 65_536;
  readonly #timers: Partial<Record<"reconnect" | "retry" | "welcome" | "ping", ReturnType<typeof setTimeout>>> = {};

  constructor(options: ClientOptions) {
    this.#o = { sendTimeoutMs: 30_000, maxQueue: 500, pingMs: 25_000, ...options };
    this.device = options.device ?? randomId();
    this.#delivery = new InOrderDelivery(
      options.store ?? new MemoryStore(),
      this.#events,
      (after, limit) => this.request({ type: "sync", after, limit }),
      (gid, after, limit) => this.request({ type: "sync", gid, after, limit }),
      (ack) => this.#sendRaw(JSON.stringify({ type: "ack", ...ack }))
    );
    this.#outbox = new Outbox(this.#o.maxQueue, this.#o.sendTimeoutMs, (n) => backoffDelay(n, { minMs: 1000, maxMs: 10_000 }));
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** The seq of the last inbox event delivered to the app. */
  get lastSeq(): number {
    return this.#delivery.lastSeq;
  }

  /** The gseq of the last event of group `gid` delivered to the app. */
  lastGseq(gid: string): number {
    return this.#delivery.lastGseq(gid);
  }

  /** Messages waiting for their ack. */
  get queued(): number {
    return this.#outbox.size;
  }

  on<K extends keyof ClientEvents>(type: K, fn: (value: ClientEvents[K]) => void): () => void {
    return this.#events.on(type, fn);
  }

  /** Starts connecting (and keeps reconnecting until {@link close}). */
  connect(): void {
    if (this.#state !== "idle" && this.#state !== "closed") return;
    this.#attempt = 0;
    this.#setState("connecting");
    void this.#open(++this.#gen);
  }

  /**
   * Drops the connection but keeps the send queue and the seq position (as
   * going offline does); `connect()` resumes. Sends meanwhile wait in the queue.
   */
  pause(): void {
    if (this.#state === "closed" || this.#state === "idle") return;
    this.#gen++;
    this.#teardown(1000, "paused");
    this.#setState("idle", { reason: "paused" });
  }

  /** Disconnects for good: queued messages and requests are rejected with `closed`. */
  close(): void {
    this.#gen++;
    this.#setState("closed", { reason: "closed by the app" });
    this.#teardown(1000, "bye");
    this.#delivery.stop();
    this.#typing.clear();
    const err = new ImError("closed", "the client was closed");
    this.#outbox.clear(err);
    for (const [id, p] of this.#requests) this.#settle(id, p, undefined, err);
  }

  /**
   * Queues a `send` frame (it must carry its `cmid`) until its ack; resolves
   * with the ack. Queued while disconnected, resent with the same `cmid`.
   */
  protected enqueue(frame: ClientRequestOf<"send">): Promise<ReplyOf<"send">> {
    if (this.#state === "closed") return Promise.reject(new ImError("closed", "the client was closed"));
    const ack = this.#outbox.add(frame.cmid, frame).then((a) => {
      if (frame.chat === "group" && a.gseq !== undefined && a.prev !== undefined) this.#delivery.posted(frame.to, a.gseq, a.prev);
      return a;
    });
    this.#flush();
    return ack;
  }

  /** `path` (a server path such as a media link's) as an http(s) URL on the socket's host. */
  httpUrl(path: string): string {
    return new URL(path, this.#o.url.replace(/^ws/, "http")).toString();
  }

  /**
   * Any request frame (`group_create`, `group_join`, …): sent when connected,
   * answered with its result or rejected with the server's error. A request
   * on the wire when the connection drops is rejected (`connection_lost`,
   * retryable), since not every request is safe to repeat. It resolves with
   * the result its frame type's reply schema describes ({@link ReplyTo}).
   */
  request<F extends ClientRequest>(frame: F): Promise<ReplyTo<F>> {
    if (this.#state === "closed") return Promise.reject(new ImError("closed", "the client was closed"));
    if (this.#requests.size >= this.#o.maxQueue) {
      return Promise.reject(new ImError("queue_full", `at most ${this.#o.maxQueue} requests may wait`, true));
    }
    const id = `q${this.#nextId++}`;
    return new Promise<ReplyTo<F>>((resolve, reject) => {
      const p: Pending = {
        frame: { ...frame, id },
        sent: false,
        // Trusted as REPLY_SCHEMAS types it: the SDK does not parse replies.
        resolve: resolve as (v: unknown) => void,
        reject,
        timer: setTimeout(() => this.#settle(id, p, undefined, new ImError("timeout", `${String(frame.type)} got no answer in time`, true)), this.#o.sendTimeoutMs)
      };
      this.#requests.set(id, p);
      this.#flush();
    });
  }

  // ---- connection ----

  async #open(gen: number): Promise<void> {
    const current = () => gen === this.#gen && (this.#state === "connecting" || this.#state === "reconnecting");
    try {
      await this.#delivery.load();
    } catch (err) {
      if (!current()) return;
      this.#events.emit("error", new ImError("internal", `the seq store failed to load: ${String(err)}`, true));
      return this.#scheduleReconnect();
    }
    let token: string;
    try {
      token = typeof this.#o.token === "function" ? await this.#o.token() : this.#o.token;
    } catch (err) {
      if (!current()) return;
      this.#events.emit("error", new ImError("unauthorized", `could not get a token: ${String(err)}`, true));
      return this.#scheduleReconnect();
    }
    if (!current()) return;
    const Ctor = this.#o.WebSocket ?? (globalThis as unknown as { WebSocket: SocketFactory }).WebSocket;
    const q = new URLSearchParams({ device: this.device, since: String(this.#delivery.lastSeq) });
    let ws: SocketLike;
    try {
      // The token rides in Sec-WebSocket-Protocol, not the URL, so access logs never hold it.
      ws = new Ctor(`${this.#o.url}?${q}`, [SUBPROTOCOL, token]);
    } catch (err) {
      this.#events.emit("error", new ImError("unavailable", `could not open a socket: ${String(err)}`, true));
      return this.#scheduleReconnect();
    }
    this.#ws = ws;
    this.#lastRx = Date.now();
    ws.addEventListener("message", (e) => this.#onMessage(ws, String(e.data)));
    ws.addEventListener("close", (e) => this.#onClose(ws, e.code, e.reason));
    // A refused upgrade (a bad token, say) may end with an error and no close event (Node's WebSocket).
    ws.addEventListener("error", () => setTimeout(() => ws.readyState !== 1 && this.#onClose(ws, 1006, "connection failed"), 0));
    stopTimer(this.#timers.welcome);
    this.#timers.welcome = setTimeout(() => this.#drop(ws, "no welcome from the server"), WELCOME_TIMEOUT_MS);
  }

  #onMessage(ws: SocketLike, data: string): void {
    if (ws !== this.#ws) return;
    this.#lastRx = Date.now();
    for (const line of data.split("\n")) {
      if (line === "" || line === HEARTBEAT_RESPONSE) continue;
      let frame: { type: string; [k: string]: unknown };
      try {
        frame = JSON.parse(line);
      } catch {
        this.#events.emit("error", new ImError("invalid_json", "the server sent a frame that is not JSON"));
        continue;
      }
      this.#onFrame(frame);
    }
  }

  #onFrame(frame: { type: string; [k: string]: unknown }): void {
    switch (frame.type) {
      case "welcome": {
        const welcome = frame as unknown as WelcomeFrame;
        stopTimer(this.#timers.welcome);
        this.#attempt = 0;
        this.#maxFrameBytes = welcome.maxFrameBytes;
        this.#delivery.welcomed(welcome.head);
        this.#setState("open");
        this.#events.emit("welcome", welcome);
        this.#startPing();
        this.#flush();
        return;
      }
      case "catchup":
        this.#delivery.caughtUp(frame as unknown as SyncResult);
        return;
      case "group_catchup":
        this.#delivery.groupCaughtUp(frame as unknown as GroupPage);
        return;
      case "reply": {
        const reply = frame as unknown as ReplyFrame;
        if (this.#outbox.settle(reply, Date.now())) {
          this.#scheduleRetry();
          return;
        }
        const p = reply.id === null ? undefined : this.#requests.get(String(reply.id));
        if (p) this.#settle(String(reply.id), p, reply.ok ? reply.result : undefined, reply.ok ? undefined : ImError.from(reply.error));
        else if (!reply.ok) this.#events.emit("error", ImError.from(reply.error));
        return;
      }
      case "presence":
        this.#events.emit("presence", frame as unknown as PresenceFrame);
        return;
      case "typing":
        this.#typing.seen(frame as unknown as TypingEvent);
        return;
      default:
        if (typeof frame.seq === "number" || typeof frame.gseq === "number") this.#delivery.live(frame as unknown as InboxEvent | GroupStreamEvent);
    }
  }

  #onClose(ws: SocketLike, code: number, reason: string): void {
    if (ws !== this.#ws) return;
    this.#teardown();
    if (this.#state === "closed") return;
    if (!shouldReconnect(code)) {
      // 4500-4999: replaced, disconnected by the backend, user deleted. Reconnecting would not help.
      this.#setState("closed", { reason: reason || `closed with ${code}` });
      const err = new ImError("closed", `the server closed the connection for good (${code} ${reason})`);
      this.#outbox.clear(err);
      for (const [id, p] of this.#requests) this.#settle(id, p, undefined, err);
      return;
    }
    this.#scheduleReconnect(code === CLOSE.token_expired ? 0 : undefined);
  }

  /** Gives up on a socket that went silent or never said welcome, and reconnects. */
  #drop(ws: SocketLike, reason: string): void {
    if (ws !== this.#ws) return;
    try {
      ws.close(4000, reason);
    } catch {
      // Already closed.
    }
    this.#onClose(ws, 4000, reason);
  }

  #teardown(code?: number, reason?: string): void {
    const ws = this.#ws;
    this.#ws = undefined;
    stopTimer(this.#timers.ping);
    stopTimer(this.#timers.welcome);
    stopTimer(this.#timers.reconnect);
    stopTimer(this.#timers.retry);
    if (ws && code !== undefined) {
      try {
        ws.close(code, reason);
      } catch {
        // Already closed.
      }
    }
    this.#outbox.lost();
    const lost = new ImError("connection_lost", "the connection dropped before the answer; retry if the request is safe to repeat", true);
    for (const [id, p] of this.#requests) if (p.sent) this.#settle(id, p, undefined, lost);
  }

  #scheduleReconnect(delay = backoffDelay(this.#attempt, this.#o.reconnect)): void {
    if (this.#state === "closed") return;
    this.#attempt++;
    this.#setState("reconnecting", { delayMs: delay });
    stopTimer(this.#timers.reconnect);
    const gen = this.#gen;
    this.#timers.reconnect = setTimeout(() => void this.#open(gen), delay);
  }

  #startPing(): void {
    stopTimer(this.#timers.ping);
    const ws = this.#ws;
    this.#timers.ping = setInterval(() => {
      if (!ws || ws !== this.#ws) return;
      if (Date.now() - this.#lastRx > 2 * this.#o.pingMs) return this.#drop(ws, "no traffic from the server");
      this.#sendRaw(HEARTBEAT_REQUEST);
    }, this.#o.pingMs);
  }

  // ---- sending ----

  #flush(): void {
    if (this.#state !== "open") return;
    const frames: string[] = [];
    for (const [, p] of this.#requests) {
      if (p.sent) continue;
      p.sent = true;
      frames.push(JSON.stringify(p.frame));
    }
    for (const { frame } of this.#outbox.take(Date.now(), () => `s${this.#nextId++}`)) frames.push(JSON.stringify(frame));
    for (const message of batchFrames(frames, this.#maxFrameBytes)) this.#sendRaw(message);
    this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    const at = this.#outbox.nextRetry();
    stopTimer(this.#timers.retry);
    if (at !== undefined) this.#timers.retry = setTimeout(() => this.#flush(), Math.max(0, at - Date.now()));
  }

  #sendRaw(text: string): boolean {
    const ws = this.#ws;
    if (!ws || ws.readyState !== 1) return false;
    try {
      ws.send(text);
      return true;
    } catch {
      return false;
    }
  }

  #settle(id: string, p: Pending, value: unknown, err?: ImError): void {
    stopTimer(p.timer);
    this.#requests.delete(id);
    if (err) p.reject(err);
    else p.resolve(value);
  }

  #setState(state: ConnectionState, extra: { delayMs?: number; reason?: string } = {}): void {
    this.#state = state;
    this.#events.emit("state", { state, ...extra });
  }
}
