import { DurableObject } from "cloudflare:workers";
import { type Limits, limitsOf, webhookConfig } from "../lib/config";
import { createDb, type Db } from "../db/client";
import { loadGroup } from "../db/groups";
import { existingUserIds, getUser } from "../db/users";
import { countCalls, metered } from "../lib/meter";
import { mapLimit } from "../lib/concurrency";
import { attempt, type Result } from "../lib/result";
import {
  type EditsResult,
  type GroupInfo,
  type GroupPage,
  type GroupReads,
  type GroupStats,
  groupSettingsSchema,
  type HistoryEvent,
  type NoticeEvent,
  ProtocolError,
  type StoredMessage,
  type TypingEvent,
  type UpdateResult
} from "../protocol";
import { amend } from "../realtime/group-updates";
import { onlineAmong } from "../realtime/presence";
import { OnlineClientsCache } from "../realtime/group-clients";
import { GroupMirror } from "../realtime/group-mirror";
import { FANOUT_CURSOR_KEY, Fanout } from "../realtime/fanout";
import { noticeOf } from "../realtime/push";
import { WebhookOutbox } from "../store/webhooks";
import { emit, execute, type GroupContext, groupInfo, post, precheck, publicView, READ_OPS } from "../realtime/group-commands";
import { editsFor, messageFor, pageFor, readsOf, searchFor, summaryFor, unreadAfter } from "../realtime/group-reads";
import { AlarmScheduler } from "../store/alarm";
import { GROUP_SCHEMA, GroupState, STORED_ONCE_STEP } from "../store/group-state";
import { migrate } from "../store/migrate";
import { relayStub, userStub } from "../rpc/stubs";
import { type PushContent } from "../rpc/delivery";
import type { Actor, AmendRequest, CommandResult, CreateGroupInput, GroupCommand, GroupSummary, OnlineClient, Posted, PostRequest } from "../rpc/calls";
import type { GroupRpc } from "../rpc/interfaces";

const FANOUT_WATCHDOG_MS = 10_000;
/** Retention runs at once when the history holds this many events over its cap. */
const TRIM_SLACK = 1_000;
/** Typing is relayed in groups up to this size (each relay is a call per online member). */
const TYPING_GROUP_MAX = 200;
/** History `sender` of backend pushes (not a valid user id, so it never collides). */
const API_SENDER = "~api";

/**
 * One per group (named by group id). Authoritative for the group: record,
 * members and roles, invites, and the history with its gseq, where every
 * message is stored once. Members read it by cursor (their stream, pages,
 * summaries, search); the live fan-out pushes each post to the members
 * online now. D1 mirrors record and members through an outbox flushed after
 * every change (src/realtime/group-mirror.ts). Logic lives in src/realtime/group-commands.ts,
 * group-reads.ts and fanout.ts; this class holds state, ordering and the
 * RPC surface.
 */
export class GroupObject extends DurableObject<Env> implements GroupRpc {
  readonly #limits: Limits;
  readonly #state: GroupState;
  readonly #db: Db;
  readonly #alarm: AlarmScheduler;
  readonly #fanout: Fanout;
  readonly #mirror: GroupMirror;
  #migrated = false;
  readonly #clients: OnlineClientsCache;
  readonly #webhooks: WebhookOutbox;
  readonly #sql: SqlStorage;
  readonly #kv: SyncKvStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const { sql, kv } = metered(ctx.storage);
    this.#sql = sql;
    this.#kv = kv;
    this.#limits = limitsOf(env);
    this.#state = new GroupState(sql, kv);
    this.#db = createDb(env.DB);
    this.#alarm = new AlarmScheduler(ctx.storage);
    this.#webhooks = new WebhookOutbox(sql, webhookConfig(env));
    this.#mirror = new GroupMirror(this.#state, this.#db, this.#alarm);
    this.#clients = new OnlineClientsCache(env);
    const gid = () => this.ctx.id.name!;
    this.#fanout = new Fanout(
      this.#state,
      kv,
      {
        live: (uid, events) => userStub(env, uid).live(gid(), events),
        relay: (k, batch) => relayStub(env, gid(), k).relay(gid(), batch, this.#limits.fanoutConcurrency),
        deliver: (uid, events) => userStub(env, uid).deliver(events as never),
        onlineAmong: (uids) => onlineAmong(env, uids, this.#limits.presenceShards)
      },
      this.#limits.fanoutCallsPerRun,
      this.#limits.fanoutConcurrency,
      this.#limits.fanoutRelayChunk
    );
  }

  /**
   * Creates the tables on first real use, not in the constructor, so asking
   * for a group that does not exist leaves no storage behind.
   */
  #schema(): void {
    if (this.#migrated) return;
    const legacy = this.#legacyFloor();
    migrate(this.#sql, GROUP_SCHEMA);
    if (legacy !== undefined) this.#state.history.setFloor(legacy);
    this.#migrated = true;
  }

  /**
   * For a group stored before groups were stored once (its schema is older
   * than the step that did it): how far its per-member fan-out had copied
   * history into every member's inbox, so members' streams start after it.
   */
  #legacyFloor(): number | undefined {
    if (this.#sql.exec("SELECT 1 FROM sqlite_master WHERE name = '_schema'").toArray().length === 0) return undefined;
    const version = this.#sql.exec<{ version: number }>("SELECT version FROM _schema").toArray()[0]?.version;
    if (version === undefined || version >= STORED_ONCE_STEP) return undefined;
    const cursor = this.#kv.get<number>(FANOUT_CURSOR_KEY) ?? 0;
    const behind = this.#sql.exec<{ m: number | null }>("SELECT min(from_gseq) AS m FROM retries").one().m;
    return Math.min(cursor, behind ?? cursor);
  }

  // ---- RPC surface: changes ----

  /** Creates the group with `creator` as owner and `members` as members. */
  async create(creator: string, input: CreateGroupInput): Promise<Result<GroupInfo>> {
    return attempt(async () => {
      const gid = this.ctx.id.name!;
      if (this.#state.meta() || (await loadGroup(this.#db, gid))) {
        throw new ProtocolError("conflict", `group ${gid} already exists`);
      }
      const members = [...new Set(input.members)].filter((u) => u !== creator);
      if (members.length + 1 > this.#limits.maxGroupMembers) {
        throw new ProtocolError("group_full", `groups are limited to ${this.#limits.maxGroupMembers} members`);
      }
      await this.#requireUsers([creator, ...members]);
      if (this.#state.meta()) throw new ProtocolError("conflict", `group ${gid} already exists`);
      this.#schema();
      const now = Date.now();
      this.#state.setMeta({
        id: gid,
        name: input.name,
        owner: creator,
        settings: groupSettingsSchema.parse({ joinPolicy: input.joinPolicy, imported: input.imported }),
        createdAt: now,
        dismissedAt: null
      });
      const row = { joinedAt: now, joinedGseq: 0, mutedUntil: null };
      this.#state.putMember({ uid: creator, role: "owner", ...row });
      for (const uid of members) this.#state.putMember({ uid, role: "member", ...row });
      emit(this.#context(creator, now), "created", { name: input.name });
      await this.#afterChange(true);
      return groupInfo(this.#state);
    });
  }

  /** Runs one operation for `actor` (a user, or null for the backend). */
  async command<C extends GroupCommand>(actor: Actor, cmd: C): Promise<Result<CommandResult<C>>> {
    return attempt(async () => {
      await this.#requireGroup();
      if (this.#state.meta()!.dismissedAt !== null && !READ_OPS.has(cmd.op)) {
        throw new ProtocolError("group_dismissed", "this group was dismissed");
      }
      if ((cmd.op === "add" || cmd.op === "invite") && !this.#state.member(cmd.uid)) {
        precheck(this.#context(actor, Date.now()), cmd);
        await this.#requireUsers([cmd.uid]);
      }
      if (cmd.op === "join" && actor !== null) await this.#dropStaleInvite(actor);
      const head = this.#state.head();
      const result = execute(this.#context(actor, Date.now()), cmd);
      if (this.#state.head() !== head) await this.#afterChange(true);
      return result;
    });
  }

  /**
   * Stores messages from members (one Result each, in order) before
   * answering; the live push to members online follows.
   */
  async post(requests: PostRequest[]): Promise<Result<Posted>[]> {
    const loaded = await attempt(() => this.#requireGroup());
    if (!loaded.ok) return requests.map(() => loaded);
    const now = Date.now();
    const out: Result<Posted>[] = [];
    const mentioned: [uid: string, message: HistoryEvent][] = [];
    try {
      for (const req of requests) {
        out.push(
          await attempt(() => {
            if (this.#state.meta()!.dismissedAt !== null) {
              throw new ProtocolError("group_dismissed", "this group was dismissed");
            }
            const head = this.#state.head();
            const stored = post(this.#context(req.sender, now), req);
            const fresh = this.#state.head() !== head;
            if (fresh) this.#webhooks.enqueue("message", publicView(stored), now);
            // Mentioned members not online here get no live push: their objects decide on a notification.
            if (fresh && stored.type === "message") {
              for (const u of stored.mentions?.users ?? []) if (u !== req.sender && !this.#state.online.has(u)) mentioned.push([u, publicView(stored)]);
            }
            return { event: stored, fresh };
          })
        );
      }
    } finally {
      if (mentioned.length > 0) this.ctx.waitUntil(this.#notifyMentioned(mentioned));
      if (out.some((r) => r.ok)) await this.#kickFanout();
      if (this.#webhooks.enabled) this.ctx.waitUntil(this.#flushWebhooks());
    }
    return out;
  }

  /**
   * Edits, recalls or reacts to a message for `actor` (see group-updates.ts);
   * the update reaches members through their stream.
   */
  async amend(actor: string, req: AmendRequest): Promise<Result<UpdateResult>> {
    return attempt(async () => {
      await this.#requireGroup();
      if (this.#state.meta()!.dismissedAt !== null) {
        throw new ProtocolError("group_dismissed", "this group was dismissed");
      }
      const now = Date.now();
      const { result, update } = amend({ ...this.#context(actor, now), recallWindowMs: this.#limits.recallWindowMs }, req);
      if (!update) return result;
      this.#webhooks.enqueue("update", update, now);
      await this.#kickFanout(true);
      if (this.#webhooks.enabled) this.ctx.waitUntil(this.#flushWebhooks());
      return result;
    });
  }

  /**
   * Relays a member's typing signal to the members online now (never
   * stored). Groups above {@link TYPING_GROUP_MAX} members get none.
   */
  async typing(actor: string, frame: TypingEvent): Promise<Result<{ relayed: boolean }>> {
    return attempt(async () => {
      await this.#requireGroup();
      if (!this.#state.member(actor)) throw new ProtocolError("not_member", "you are not a member of this group");
      if (this.#state.meta()!.dismissedAt !== null) throw new ProtocolError("group_dismissed", "this group was dismissed");
      if (this.#state.memberCount() > TYPING_GROUP_MAX) return { relayed: false };
      const online = this.#state.online.list().filter((u) => u !== actor && this.#state.member(u));
      await Promise.allSettled(online.map((uid) => userStub(this.env, uid).signal(frame)));
      return { relayed: true };
    });
  }

  /**
   * sendToGroup: stores a backend push in the history (once per push id),
   * for members but `exceptUids`; `exceptDevices` see it on sync but get no
   * live push. It reaches members like a message.
   */
  async notice(
    pushId: string,
    content: PushContent,
    exceptUids: string[],
    exceptDevices: { uid: string; device: string }[]
  ): Promise<Result<{ pushId: string; gseq: number; recipients: number; delivery: "queued" }>> {
    return attempt(async () => {
      await this.#requireGroup();
      if (this.#state.meta()!.dismissedAt !== null) {
        throw new ProtocolError("group_dismissed", "this group was dismissed");
      }
      const recipients = this.#state.memberCount() - exceptUids.filter((u) => this.#state.member(u)).length;
      const prior = this.#state.history.byCmid(API_SENDER, pushId);
      if (prior) return { pushId, gseq: prior.gseq ?? 0, recipients, delivery: "queued" as const };
      const skip: Record<string, string[]> = {};
      for (const d of exceptDevices) (skip[d.uid] ??= []).push(d.device);
      const stored = this.#state.history.append(
        { ...(noticeOf(pushId, content, { gid: this.#state.meta()!.id }) as Omit<NoticeEvent, "seq" | "gseq">) },
        { sender: API_SENDER, cmid: pushId, except: exceptUids, skip }
      );
      await this.#kickFanout();
      return { pushId, gseq: stored.gseq ?? 0, recipients, delivery: "queued" as const };
    });
  }

  // ---- RPC surface: a member's reads ----

  /**
   * `uid`'s object has sockets: push this group's new events to it from now
   * on, and answer the page of its stream after `after` (a member, or a
   * former member reading up to where they left: `member` says which).
   */
  async attach(uid: string, after: number, limit: number): Promise<Result<GroupPage & { member: boolean }>> {
    return attempt(async () => {
      await this.#requireGroup();
      const member = this.#state.member(uid) !== undefined;
      const page = pageFor(this.#state, this.ctx.id.name!, uid, after, limit);
      if (member) this.#state.online.add(uid, Date.now());
      return { ...page, member };
    });
  }

  /** One page of `uid`'s stream of this group after gseq `after`; `member` says whether they belong now. */
  async page(uid: string, after: number, limit: number): Promise<Result<GroupPage & { member: boolean }>> {
    return attempt(async () => {
      await this.#requireGroup();
      return { ...pageFor(this.#state, this.ctx.id.name!, uid, after, limit), member: this.#state.member(uid) !== undefined };
    });
  }

  /** `uid`'s conversation entry: the newest message they can see and their unread count after `read`. */
  async summary(uid: string, read: number, hidden: string[]): Promise<Result<GroupSummary | null>> {
    return attempt(async () => {
      await this.#requireGroup();
      return summaryFor(this.#state, uid, read, hidden);
    });
  }

  /** The message `mid` as `uid` may see it, with its gseq and (for `read`) what is unread after it. */
  async message(uid: string, mid: string, markRead = false): Promise<Result<{ gseq: number; message: StoredMessage; unreadAfter: number }>> {
    return attempt(async () => {
      await this.#requireGroup();
      const found = messageFor(this.#state, uid, mid);
      if (markRead && this.#state.member(uid) && this.#state.memberCount() <= this.#limits.groupReadStateMax) this.#state.reads.mark(uid, found.gseq);
      return { ...found, unreadAfter: unreadAfter(this.#state, uid, found.gseq) };
    });
  }

  async reads(actor: string | null, mid: string): Promise<Result<GroupReads>> {
    return attempt(async () => {
      await this.#requireGroup();
      if (actor !== null && !this.#state.member(actor)) throw new ProtocolError("not_member", "you are not a member of this group");
      return readsOf(this.#state, actor, mid, this.#limits.groupReadStateMax);
    });
  }

  /** Every version of a message `uid` may see. */
  async edits(uid: string, mid: string): Promise<Result<EditsResult>> {
    return attempt(async () => {
      await this.#requireGroup();
      return editsFor(this.#state, uid, mid);
    });
  }

  /** `uid`'s messages of this group whose text matches `like`, newest first. */
  async search(uid: string, like: string, before: string | undefined, limit: number): Promise<Result<StoredMessage[]>> {
    return attempt(async () => {
      await this.#requireGroup();
      return searchFor(this.#state, uid, like, before, limit);
    });
  }

  /** The devices of the members online now (the seed's `getClientSessionsByGroup`), an answer at most `maxAgeMs` old. */
  async onlineClients(maxAgeMs: number): Promise<Result<OnlineClient[]>> {
    return attempt(async () => {
      await this.#requireGroup();
      return this.#clients.get(maxAgeMs, () => this.#state.online.list().filter((uid) => this.#state.member(uid)));
    });
  }

  /** Counters for operators (`GET /api/v1/groups/{gid}/stats`). */
  async stats(): Promise<Result<GroupStats>> {
    return attempt(async () => {
      await this.#requireGroup();
      const head = this.#state.head();
      const cursor = Math.min(head, this.#fanout.cursor());
      return {
        gid: this.#state.meta()!.id,
        members: this.#state.memberCount(),
        online: this.#state.online.size(),
        head,
        trimmed: this.#state.history.trimmed(),
        fanoutCursor: cursor,
        fanoutPending: head - cursor,
        retryingMembers: this.#state.retries.count()
      };
    });
  }

  /** Continues the fan-out (fresh subrequest budget) and its retries, the D1 mirror, and retention. */
  override async alarm(): Promise<void> {
    this.#alarm.fired();
    this.#schema();
    const next = await this.#fanout.run();
    await this.#mirror.flush();
    const now = Date.now();
    const more = this.#state.history.trim(now, this.#limits.groupHistoryTtlMs, this.#limits.groupHistoryMax);
    this.#state.pruneFormer(now - this.#limits.groupHistoryTtlMs);
    const oldest = this.#state.history.oldestAt();
    const due = [next, more ? now : undefined, oldest === undefined ? undefined : oldest + this.#limits.groupHistoryTtlMs].filter((t) => t !== undefined);
    if (due.length > 0) await this.#alarm.ensure(Math.min(...due));
    await this.#flushWebhooks();
  }

  async #flushWebhooks(): Promise<void> {
    try {
      const next = await this.#webhooks.flush();
      if (next !== undefined) await this.#alarm.ensure(next);
    } catch (err) {
      console.error("webhook flush failed", err);
    }
  }

  // ---- internals ----

  /**
   * An invite older than the invitee's account was for an earlier account
   * with the same id (deleted since): it does not carry over. D1 keeps
   * creation times in whole seconds, hence the second of slack.
   */
  async #dropStaleInvite(uid: string): Promise<void> {
    const at = this.#state.invitedAt(uid);
    if (at === undefined) return;
    const user = await getUser(this.#db, uid);
    if (!user || at < user.createdAt - 1000) this.#state.dropInvite(uid);
  }

  #context(actor: Actor, now: number): GroupContext {
    return { state: this.#state, actor, now, maxMembers: this.#limits.maxGroupMembers, strangerKinds: this.#limits.strangerKinds };
  }

  /** Loads the group from D1 if this object's storage does not have it yet. */
  async #requireGroup(): Promise<void> {
    if (this.#state.meta()) return this.#schema();
    const gid = this.ctx.id.name!;
    const found = await loadGroup(this.#db, gid);
    if (!found) throw new ProtocolError("unknown_group", `no group ${gid}`);
    this.#schema();
    if (this.#state.meta()) return;
    this.#state.setMeta(found.meta);
    for (const m of found.members) this.#state.putMember(m);
    this.#state.mirrorDone(Number.MAX_SAFE_INTEGER);
    // Nobody has attached to a group that did not exist here: find who is online.
    this.#fanout.admitEveryone();
  }

  async #requireUsers(uids: string[]): Promise<void> {
    for (let i = 0; i < uids.length; i += 100) {
      const chunk = uids.slice(i, i + 100);
      const found = await existingUserIds(this.#db, chunk);
      const missing = chunk.find((u) => !found.has(u));
      if (missing) throw new ProtocolError("unknown_user", `no user ${missing}`);
    }
  }

  /** After a change: mirror to D1 before answering (so HTTP reads see it), fan out in the background. */
  async #afterChange(durable: boolean): Promise<void> {
    await this.#kickFanout(durable);
    await this.#mirror.flush();
  }

  /**
   * Starts the live push in the background. When it has someone to push to,
   * a retry waits, or the new events must reach an inbox (`durable`: an
   * invite, a recall for former members), an alarm is kept first, so a push
   * cut off by a restart resumes from the stored cursor; a post with nobody
   * online costs no alarm. Retention is scheduled by age (once per oldest
   * event) and at once when the history is over its cap.
   */
  async #kickFanout(durable = false): Promise<void> {
    const now = Date.now();
    if (durable || this.#state.online.size() > 0 || this.#state.retries.nextAt() !== undefined) await this.#alarm.ensure(now + FANOUT_WATCHDOG_MS);
    const history = this.#state.history;
    if (this.#state.head() - history.trimmed() > this.#limits.groupHistoryMax + TRIM_SLACK) await this.#alarm.ensure(now);
    const oldest = history.oldestAt();
    if (oldest !== undefined) await this.#alarm.ensure(oldest + this.#limits.groupHistoryTtlMs);
    const run = this.#fanout
      .run()
      .then((next) => (next !== undefined ? this.#alarm.ensure(next) : undefined))
      .catch((err) => {
        console.error("fan-out failed; alarm resumes it", err);
        return this.#alarm.ensure(Date.now() + 1_000);
      });
    this.ctx.waitUntil(run);
  }

  /** One call per mentioned member who is not online (at most MAX_MENTIONS per message); best effort. */
  async #notifyMentioned(mentioned: readonly [string, HistoryEvent][]): Promise<void> {
    const gid = this.ctx.id.name!;
    await mapLimit(mentioned, this.#limits.fanoutConcurrency, ([uid, message]) =>
      userStub(this.env, uid).notifyMention(gid, message as StoredMessage).catch((err: unknown) => console.warn("mention notification failed", uid, String(err)))
    );
  }
}

countCalls(GroupObject);
