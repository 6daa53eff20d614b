import { DurableObject } from "cloudflare:workers";
import { type Limits, limitsOf, webhookConfig } from "../lib/config";
import { createDb, type Db } from "../db/client";
import { attempt, type Result } from "../lib/result";
import { loadPeers } from "../db/friendships";
import { getUser } from "../db/users";
import {
  CLOSE,
  errorResponse,
  HEARTBEAT_REQUEST,
  HEARTBEAT_RESPONSE,
  type PresenceFrame,
  type UserOnline,
  type UserStats,
  SYNC_PAGE_DEFAULT,
  type ConversationPage,
  type DmHistoryPage,
  type DmHistoryQuery,
  type SearchPage,
  type ServerFrame,
  type TypingEvent,
  type UnsequencedEvent,
  type PushSubscription,
  type SearchQuery,
  type StoredMessage,
  type SubscriptionInfo
} from "../protocol";
import {
  acceptSocket,
  attachmentOf,
  closeQuietly,
  completeClose,
  deviceTag,
  openSockets,
  safeSend,
  touch,
  UPGRADE_HEADERS
} from "../realtime/connection";
import { Courier } from "../realtime/courier";
import { Sessions } from "../realtime/sessions";
import { OfflineNotices } from "../realtime/offline-notices";
import { GroupLinks } from "../realtime/group-links";
import { chainOf } from "../realtime/group-stream";
import { Outbound, RETRY_MIN_MS } from "../realtime/outbound";
import { dispatch } from "../realtime/dispatch";
import { compatDispatch } from "../realtime/compat/handlers";
import { CompatSockets } from "../realtime/compat/sockets";
import { pushToSockets, type UserSockets } from "../realtime/device-push";
import { relaySeedMessage } from "../realtime/compat/relay";
import { onlineFriends } from "../realtime/handlers/session";
import { listConversations, searchMessages } from "../realtime/handlers/conversations";
import { groupStub } from "../rpc/stubs";
import { recordOwn, type UserHub } from "../realtime/hub";
import { FriendCache } from "../store/friends";
import { PRESENCE_REFRESH_MS, PresencePublisher, SentCounter } from "../realtime/presence";
import { TokenBucket } from "../rules/rate-limit";
import { type WebhookType, WebhookOutbox } from "../store/webhooks";
import { Account } from "../store/account";
import { Privacy } from "../store/privacy";
import { DeliveredReceipts } from "../store/delivered";
import { AlarmScheduler } from "../store/alarm";
import { Logger } from "../lib/log";
import { countCalls, metered } from "../lib/meter";
import { CompatQueue } from "../store/compat-queue";
import { INBOX_SCHEMA, Inbox } from "../store/inbox";
import { COMPAT_DEVICE } from "../store/memberships";
import { Conversations } from "../store/conversations";
import { Memberships } from "../store/memberships";
import { backfillConversations } from "../store/conversations-backfill";
import { TypingGate } from "../rules/typing";
import { migrate } from "../store/migrate";
import { type Deliverable, type Delivered, type LiveRun } from "../rpc/delivery";
import type { Posted, PostRequest, RelayRequest } from "../rpc/calls";
import type { UserRpc } from "../rpc/interfaces";

/**
 * Friend lists are dropped by the routes that change them; as a safety net
 * they are also re-read from D1 at least this often.
 */
const FRIENDS_TTL_MS = 24 * 3600_000;

const KV_UID = "user.id";

/**
 * One per user (named by user id). Owns every device socket of that user
 * (hibernatable), the user's inbox (DO SQLite) and delivery to other users'
 * objects. Frame logic lives in src/realtime/handlers; this class holds
 * state, adapters and the RPC surface.
 */
export class UserObject extends DurableObject<Env> implements UserRpc {
  readonly #limits: Limits;
  readonly #log: Logger;
  readonly #inbox: Inbox;
  readonly #groups: GroupLinks;
  readonly #compat: CompatSockets;
  readonly #db: Db;
  readonly #outbound: Outbound;
  readonly #posts: Courier<PostRequest, Result<Posted>>;
  readonly #hub: UserHub;
  readonly #friends: FriendCache;
  readonly #alarm: AlarmScheduler;
  readonly #presence: PresencePublisher;
  readonly #webhooks: WebhookOutbox;
  readonly #sent: SentCounter;
  readonly #account: Account;
  readonly #privacy: Privacy;
  readonly #sessions: Sessions;
  readonly #sql: SqlStorage;
  readonly #kv: SyncKvStorage;
  readonly #notices: OfflineNotices;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const { sql, kv } = metered(ctx.storage);
    this.#sql = sql;
    this.#kv = kv;
    this.#limits = limitsOf(env);
    this.#log = new Logger(this.#limits.logLevel);
    this.#inbox = new Inbox(
      sql,
      kv,
      new Conversations(sql, () => this.#uid, this.#limits.strangerKinds)
    );
    const memberships = new Memberships(sql);
    this.#compat = new CompatSockets(ctx, new CompatQueue(sql, kv), memberships);
    this.#db = createDb(env.DB);
    this.#groups = new GroupLinks(env, this.#db, () => this.#uid, memberships, () => openSockets(ctx).length > 0, () => this.#compat.queue.enabled());
    this.#account = new Account(kv, this.#db, () => this.#uid);
    this.#privacy = new Privacy(kv);
    this.#sessions = new Sessions({
      ctx,
      account: this.#account,
      limits: this.#limits,
      log: this.#log,
      ensureAlarm: (at) => this.#alarm.ensure(at),
      closedHere: (ws, code) => {
        this.#compat.closed(ws, code);
        this.#groups.memberships.cursors.flush();
      }
    });
    this.#posts = new Courier((gid, requests) => groupStub(env, gid).post(requests));
    this.#alarm = new AlarmScheduler(ctx.storage);
    this.#webhooks = new WebhookOutbox(sql, webhookConfig(env));
    this.#friends = new FriendCache(() => loadPeers(this.#db, this.#uid), FRIENDS_TTL_MS, kv);
    this.#outbound = new Outbound(env, this.#inbox, this.#friends, this.#alarm, this.#limits.strangerKinds);
    this.#sent = new SentCounter(kv);
    this.#notices = new OfflineNotices({
      sql,
      env,
      uid: () => this.#uid,
      inbox: this.#inbox,
      groups: this.#groups,
      sockets: () => openSockets(ctx).length,
      waitUntil: (p) => ctx.waitUntil(p),
      ensureAlarm: (at) => this.#alarm.ensure(at)
    });
    this.#presence = new PresencePublisher({
      env,
      kv: kv,
      shards: this.#limits.presenceShards,
      uid: () => this.#uid,
      sockets: (closing) => openSockets(ctx, closing).length,
      friends: async () => (await this.#friends.get()).friends,
      ensureAlarm: (at) => this.#alarm.ensure(at),
      webhook: (online) => this.#webhook(online ? "online" : "offline", { uid: this.#uid }),
      sent: this.#sent,
      hidesLastSeen: () => this.#privacy.lastSeen() === "nobody"
    });
    ctx.blockConcurrencyWhile(async () => {
      migrate(sql, INBOX_SCHEMA);
      const uid = ctx.id.name ?? kv.get<string>(KV_UID);
      if (uid) backfillConversations(sql, kv, uid, this.#limits.strangerKinds);
      // Something a crash left waiting for delivery: retry it from the alarm.
      if (this.#inbox.pending.first() !== undefined) await this.#alarm.ensure(Date.now() + RETRY_MIN_MS);
    });
    ctx.setWebSocketAutoResponse(
      new WebSocketRequestResponsePair(HEARTBEAT_REQUEST, HEARTBEAT_RESPONSE)
    );
    const self = this;
    this.#hub = {
      get uid() {
        return self.#uid;
      },
      env,
      limits: this.#limits,
      log: this.#log,
      inbox: this.#inbox,
      groups: this.#groups,
      sends: new TokenBucket(this.#limits.sendRatePerSecond, this.#limits.sendBurst),
      typing: new TypingGate(),
      compat: this.#compat.queue,
      privacy: this.#privacy,
      delivered: new DeliveredReceipts(sql, kv),
      confirmCompat: (device, cutoff) => this.#compat.confirm(device, cutoff),
      compatDevices: () => this.#compat.devices(),
      compatSockets: this.#compat,
      peers: () => this.#friends.get(),
      peersNow: () => this.#friends.peek(),
      userExists: async (uid) => (await getUser(this.#db, uid)) !== undefined,
      push: (frame, except) => void this.#push(frame, except),
      forward: (event, target) => this.#outbound.forward(event, target),
      post: (gid, request) => this.#posts.send(gid, request),
      appended: (now) => this.#appended(now),
      countSent: () => this.#sent.add(),
      webhook: (type, data) => this.#webhook(type, data),
      record: (event, opts) => recordOwn(this.#hub, event, opts),
      notifier: this.#notices.notifier
    };
  }

  get #uid(): string {
    const uid = this.ctx.id.name ?? this.#kv.get<string>(KV_UID);
    if (!uid) throw new Error("UserObject used before its user id is known");
    return uid;
  }

  // ---- WebSocket upgrade (from the Worker, after token verification) ----

  override async fetch(request: Request): Promise<Response> {
    const h = request.headers;
    const uid = h.get(UPGRADE_HEADERS.uid);
    const device = h.get(UPGRADE_HEADERS.device);
    const exp = Number(h.get(UPGRADE_HEADERS.exp));
    const iat = h.get(UPGRADE_HEADERS.iat);
    const since = h.get(UPGRADE_HEADERS.since);
    const protocol = h.get(UPGRADE_HEADERS.protocol);
    const compat = h.get(UPGRADE_HEADERS.compat) === "1";
    if (!uid || !device || !Number.isFinite(exp) || h.get("Upgrade")?.toLowerCase() !== "websocket") {
      return errorResponse("bad_request", "expected an authenticated WebSocket upgrade");
    }
    const jti = h.get(UPGRADE_HEADERS.jti) ?? undefined;
    const token = { ...(iat !== null ? { iat: Number(iat) } : {}), ...(jti !== undefined ? { jti } : {}) };
    const refused = await this.#sessions.refusal(uid, token);
    if (refused) return refused;
    if (this.#kv.get<string>(KV_UID) !== uid) {
      if (!(await getUser(this.#db, uid))) {
        return errorResponse("unknown_user", `no user ${uid}`);
      }
      this.#kv.put(KV_UID, uid);
    }

    for (const old of this.ctx.getWebSockets(deviceTag(device))) {
      closeQuietly(old, CLOSE.replaced, "replaced by a newer connection of this device");
    }
    const { 0: client, 1: server } = new WebSocketPair();
    const now = Date.now();
    this.#log.info("connect", { uid, device, protocol: compat ? "compat" : "v1" });
    if (compat) {
      // The seed's clients get no greeting; their `pull` asks for what was queued.
      this.#compat.queue.enable();
      acceptSocket(this.ctx, server, { uid, device, connectedAt: now, exp, ...token, compat: true });
      this.#sessions.opened(now);
      this.#notices.connected();
      this.ctx.waitUntil(this.#presence.update());
      this.ctx.waitUntil(this.#groups.attachAll(COMPAT_DEVICE, openSockets(this.ctx).length === 1));
      return new Response(null, { status: 101, webSocket: client, headers: protocol ? { "Sec-WebSocket-Protocol": protocol } : undefined });
    }
    acceptSocket(this.ctx, server, { uid, device, connectedAt: now, exp, ...token });
    this.#sessions.opened(now);
    this.#notices.connected();
    const vapidPublicKey = this.#notices.notifier.vapidPublicKey;
    safeSend(server, {
      type: "welcome",
      uid,
      device,
      head: this.#inbox.head(),
      maxFrameBytes: this.#limits.maxFrameBytes,
      ts: now,
      ...(vapidPublicKey ? { vapidPublicKey } : {})
    });
    if (since !== null) {
      safeSend(server, { type: "catchup", ...this.#inbox.page(Number(since), SYNC_PAGE_DEFAULT) });
    }
    this.ctx.waitUntil(this.#presence.update());
    // Group events are not in the inbox: each group hands what this device missed of it.
    this.ctx.waitUntil(
      this.#groups.attachAll(device, openSockets(this.ctx).length === 1, since === null ? undefined : (page) => safeSend(server, { type: "group_catchup", ...page }))
    );
    return new Response(null, {
      status: 101,
      webSocket: client,
      headers: protocol ? { "Sec-WebSocket-Protocol": protocol } : undefined
    });
  }

  // ---- Hibernation handlers: thin adapters ----

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const a = attachmentOf(ws);
    if (!a) {
      closeQuietly(ws, 1011, "connection state lost; reconnect");
      return;
    }
    if (a.exp * 1000 <= Date.now()) {
      closeQuietly(ws, CLOSE.token_expired, "token expired; reconnect with a fresh token");
      return;
    }
    touch(ws, a, Date.now());
    try {
      const conn = { ws, uid: a.uid, device: a.device };
      await (a.compat ? compatDispatch(this.#hub, conn, message) : dispatch(this.#hub, conn, message));
    } catch (err) {
      this.#log.error("frame_failed", { uid: a.uid, device: a.device, error: String(err) });
    }
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    const a = attachmentOf(ws);
    this.#log.info("disconnect", { uid: a?.uid, device: a?.device, code });
    this.#compat.closed(ws, code);
    this.#groups.memberships.cursors.flush();
    completeClose(ws, code);
    this.ctx.waitUntil(this.#presence.update(ws));
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    if (ws.readyState === WebSocket.OPEN) console.warn("socket error", error);
    this.#compat.closed(ws);
    this.#groups.memberships.cursors.flush();
    this.ctx.waitUntil(this.#presence.update(ws));
  }

  // ---- RPC surface (called by other objects and the Worker) ----

  /**
   * Appends events addressed to this user (deduplicated by event id) and
   * pushes the new ones to every open device, except the devices an event's
   * `skipDevices` names (never stored). Returns each event's seq here and how
   * many devices it reached live (0 for a duplicate).
   */
  async deliver(events: Deliverable[]): Promise<Delivered[]> {
    // A deleted user's object stores nothing more: late fan-outs and jobs are dropped.
    if (await this.#account.deleted()) return events.map(() => ({ seq: 0, devices: 0, duplicate: true }));
    const now = Date.now();
    const skips = events.map((e) => e.skipDevices);
    const appended = this.#inbox.append(events.map((e) => withoutSkip(e)), now);
    const uid = this.#uid;
    const out = appended.map((a, i): Delivered => {
      if (!a.fresh) return { seq: a.event.seq, devices: 0, duplicate: true };
      const e = a.event;
      // A group fan-out hands the sender its own message too: not to the device that sent it.
      const except = [...(skips[i] ?? []), ...(e.type === "message" && e.from === uid && e.device ? [e.device] : [])];
      const reached = this.#push(e, except);
      this.#compat.stored(e, uid, reached.compatDevice, now);
      return { seq: e.seq, devices: reached.devices, duplicate: false };
    });
    this.#appended(now);
    this.#notices.stored(appended.filter((a) => a.fresh).map((a) => a.event));
    this.#log.debug("deliver", { uid, events: events.length, fresh: out.filter((d) => !d.duplicate).length, devices: out.reduce((n, d) => n + d.devices, 0) });
    return out;
  }

  /**
   * A group's new events for this user's devices (stored once, in the
   * group): each run pushed as it came to every open device but the ones it
   * skips, and stored nowhere. False when this user has no socket, so the
   * group stops pushing here until the user attaches again.
   */
  async live(gid: string, runs: LiveRun[]): Promise<boolean> {
    const sockets = this.#sockets();
    if (sockets.all.length === 0 || (await this.#account.deleted())) {
      if (sockets.all.length === 0) this.#notices.missedLive(gid, runs);
      return false;
    }
    this.#groups.pushed(gid, runs);
    for (const r of runs) this.#push(r.text, r.skipDevices, sockets);
    if (sockets.compat.length > 0) this.#compat.shown(gid, chainOf(runs), Date.now());
    return true;
  }

  /** A group message that mentions this user, who was not online in the group: a notification if no device is here. */
  async notifyMention(gid: string, message: StoredMessage): Promise<void> {
    this.#notices.mentioned(gid, message);
  }

  async pushSubscribe(subscription: PushSubscription): Promise<{ subscription: string; created: boolean }> {
    return this.#notices.notifier.subscribe(subscription);
  }

  async pushUnsubscribe(id: string): Promise<boolean> {
    return this.#notices.notifier.unsubscribe(id);
  }

  async pushSubscriptions(): Promise<SubscriptionInfo[]> {
    return this.#notices.notifier.list();
  }

  /** Counters for operators (`GET /api/v1/users/{uid}/stats`). */
  async stats(): Promise<UserStats> {
    return {
      uid: this.#uid,
      connections: openSockets(this.ctx).length,
      head: this.#inbox.head(),
      retained: this.#inbox.size(),
      pendingDeliveries: this.#inbox.pending.count()
    };
  }

  /** Whether this user is online, and their connected devices (authoritative). */
  async status(): Promise<UserOnline> {
    const devices = openSockets(this.ctx)
      .map(attachmentOf)
      .filter((a) => a !== undefined)
      .map((a) => ({ device: a.device, connectedAt: a.connectedAt }))
      .sort((a, b) => a.connectedAt - b.connectedAt);
    return { uid: this.#uid, online: devices.length > 0, devices };
  }

  /** Bans the user: closes every socket (4503), revokes their tokens and forgets their push subscriptions. */
  async ban(reason?: string): Promise<number> {
    this.#notices.notifier.removeAll();
    return this.#sessions.ban(reason);
  }

  async unban(): Promise<boolean> {
    return this.#sessions.unban();
  }

  async revokeTokens(jti?: string, exp?: number): Promise<number> {
    // Every token revoked (a "log out everywhere"): the browsers those sessions subscribed stop getting this user's notifications.
    if (jti === undefined) this.#notices.notifier.removeAll();
    return this.#sessions.revoke(jti, exp);
  }

  /** Closes one device's socket (or all) with 4501 and `reason`; returns how many. */
  async disconnect(device: string | undefined, reason: string): Promise<number> {
    return this.#sessions.disconnect(device, reason);
  }

  /**
   * The user was deleted: every socket closes with 4502, presence goes
   * offline, and this object's storage (inbox, alarm) is erased.
   */
  async purge(): Promise<void> {
    const sockets = openSockets(this.ctx);
    for (const ws of sockets) closeQuietly(ws, CLOSE.user_deleted, "user deleted");
    if (this.#kv.get<string>(KV_UID) !== undefined || sockets.length > 0) {
      await this.#presence.update();
    }
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    // Fresh, empty state for anything that still reaches this instance, and a
    // tombstone so deliveries still in flight are dropped, not stored.
    migrate(this.#sql, INBOX_SCHEMA);
    this.#account.markDeleted();
    this.#inbox.reset();
    this.#groups.memberships.reset();
    this.#compat.queue.reset();
    this.#alarm.reset();
    this.#notices.notifier.outbox.reset();
    this.#friends.invalidate();
  }

  /** A seed chat message the backend relays as this user (`/api/v1/gateway/sendToUid`, `sendToGroup`). */
  async relay(r: RelayRequest): Promise<Result<{ mid: string }>> {
    return attempt(() => relaySeedMessage(this.#hub, r));
  }

  /** An ephemeral signal (typing) for this user's open devices; never stored. */
  async signal(frame: TypingEvent): Promise<void> {
    this.#push(frame);
  }

  /** One page of this user's conversations (`GET /api/v1/users/{uid}/conversations`). */
  async conversations(cursor: string | undefined, limit: number): Promise<Result<ConversationPage>> {
    return attempt(() => listConversations(this.#hub, cursor, limit));
  }

  /** Search this user's messages (`GET /api/v1/users/{uid}/search`). */
  async search(q: SearchQuery): Promise<Result<SearchPage>> {
    return attempt(() => searchMessages(this.#hub, q));
  }

  async history(peer: string, q: DmHistoryQuery): Promise<Result<DmHistoryPage>> {
    return attempt(() => this.#inbox.conversations.history(peer, q));
  }

  /** A friend came online or went offline: tell this user's devices. */
  async presence(frame: PresenceFrame): Promise<void> {
    this.#push(frame);
    await this.#compat.presence(frame, () => onlineFriends(this.#hub));
  }

  /**
   * A friendship of this user changed in D1: forget the cached list. If it
   * ended (`removed`), events still pending for that user are dropped too,
   * but for what a non-friend may be sent (the seed's `STRANGER_KINDS`).
   */
  async invalidateFriends(removed?: string): Promise<void> {
    this.#friends.invalidate();
    if (removed !== undefined) this.#outbound.unfriended(removed);
  }

  /**
   * Maintenance, at least once per due time: retries unconfirmed deliveries,
   * enforces retention, refreshes this user's presence lease (or clears a
   * ghost after a restart dropped every socket), then re-arms.
   */
  override async alarm(): Promise<void> {
    this.#alarm.fired();
    const now = Date.now();
    const due: number[] = [];

    const retry = await this.#outbound.retryPending(now);
    if (retry !== undefined) due.push(retry);
    const hooks = await this.#webhooks.flush(now);
    if (hooks !== undefined) due.push(hooks);
    const notices = await this.#notices.notifier.flush(now);
    if (notices !== undefined) due.push(notices);

    this.#inbox.trim(now, this.#limits.inboxTtlMs, this.#limits.inboxMax);
    const oldest = this.#inbox.oldestAt();
    if (oldest !== undefined) due.push(oldest + this.#limits.inboxTtlMs);

    const idle = this.#sessions.sweep(now);
    if (idle !== undefined) due.push(idle);
    if (openSockets(this.ctx).length > 0 || this.#presence.mayBeOnline()) {
      await this.#presence.update();
      due.push(now + PRESENCE_REFRESH_MS);
    }

    if (due.length > 0) await this.#alarm.ensure(Math.min(...due));
  }

  // ---- internals ----

  /** Stores a webhook event and sends it in the background; the alarm retries failures. */
  #webhook(type: WebhookType, data: unknown): void {
    if (!this.#webhooks.enabled) return;
    this.#webhooks.enqueue(type, data);
    this.ctx.waitUntil(
      this.#webhooks
        .flush()
        .then((next) => (next !== undefined ? this.#alarm.ensure(next) : undefined))
        .catch((err) => console.error("webhook flush failed", err))
    );
  }

  /** {@link pushToSockets} for this user's sockets (open now, unless given). */
  #push(frame: ServerFrame | string, except?: string | readonly string[], sockets = this.#sockets()) {
    return pushToSockets(this.#uid, sockets, frame, except);
  }

  /** The open sockets, and which of them are seed (compat) sockets. */
  #sockets(): UserSockets {
    return { all: openSockets(this.ctx), compat: this.#compat.open() };
  }

  /**
   * After an append: schedule retention (now, if over the cap). No alarm
   * for the delivery itself: a failed one arms it (Outbound), and one a
   * crash cut off is found when the object starts again.
   */
  #appended(now: number): void {
    const retained = this.#inbox.head() - this.#inbox.trimmed();
    const retention =
      retained > this.#limits.inboxMax
        ? now
        : (this.#inbox.oldestAt() ?? now) + this.#limits.inboxTtlMs;
    void this.#alarm.ensure(retention);
  }
}

countCalls(UserObject);

/** An event without the devices it must not be pushed to (that list is for this object only). */
function withoutSkip(e: Deliverable): UnsequencedEvent {
  if (e.skipDevices === undefined) return e;
  const { skipDevices: _skip, ...rest } = e;
  return rest;
}
