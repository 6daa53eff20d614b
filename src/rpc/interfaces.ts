import type { z } from "zod";
import type { Result } from "../lib/result";
import type {
  ConversationPage,
  CreateScheduleBody,
  DmHistoryPage,
  DmHistoryQuery,
  EditsResult,
  GroupInfo,
  GroupPage,
  GroupReads,
  GroupStats,
  PresenceFrame,
  pushGroupResultSchema,
  Schedule,
  SearchPage,
  SearchQuery,
  StoredMessage,
  TypingEvent,
  UpdateResult,
  UserOnline,
  UserStats,
  PushSubscription,
  SubscriptionInfo
} from "../protocol";
import type { Actor, AmendRequest, CommandResult, CreateGroupInput, GroupCommand, GroupSummary, OnlineClient, Posted, PostRequest, RelayRequest } from "./calls";
import type { Deliverable, Delivered, LiveRun, PushContent, PushOutcome } from "./delivery";

/*
 * The RPC surface of each Durable Object class, written by hand: callers
 * depend on these, never on the classes (which sit two layers up), and each
 * class `implements` its interface, so the two cannot drift. A method that
 * can refuse returns a `Result` (lib/result.ts): a thrown ProtocolError
 * would lose its code crossing the RPC boundary.
 */

/** `UserObject`, one per user id: their devices' sockets, inbox and memberships. */
export interface UserRpc {
  /** The WebSocket upgrade of `GET /ws` and `GET /ws/compat`, after the Worker verified the token. */
  fetch(request: Request): Promise<Response>;
  /** Stores each event unless stored before (by event id) and pushes it to the user's devices. */
  deliver(events: Deliverable[]): Promise<Delivered[]>;
  /** A group's live push: sent to the devices as is, stored nowhere; false when the user has no socket. */
  live(gid: string, runs: LiveRun[]): Promise<boolean>;
  /** A group message mentioning this user while they were not online in the group: notify them if no device is connected. */
  notifyMention(gid: string, message: StoredMessage): Promise<void>;
  pushSubscribe(subscription: PushSubscription): Promise<{ subscription: string; created: boolean }>;
  pushUnsubscribe(id: string): Promise<boolean>;
  pushSubscriptions(): Promise<SubscriptionInfo[]>;
  stats(): Promise<UserStats>;
  status(): Promise<UserOnline>;
  /** Closes the device's sockets (all with `undefined`); how many closed. */
  disconnect(device: string | undefined, reason: string): Promise<number>;
  /** Bans the user (sockets close with 4503; no token opens one until unbanned); how many closed. */
  ban(reason?: string): Promise<number>;
  /** Lifts a ban; false when there was none. Tokens issued before the ban stay revoked. */
  unban(): Promise<boolean>;
  /** Revokes token `jti` (kept until `exp`), or every token issued so far; closes their sockets (4003); how many closed. */
  revokeTokens(jti?: string, exp?: number): Promise<number>;
  /** Erases the user's object (account deleted). */
  purge(): Promise<void>;
  /** Sends a seed chat message the backend relays as this user (stored once per seed `id`); its message id. */
  relay(r: RelayRequest): Promise<Result<{ mid: string }>>;
  /** A typing signal, pushed live and never stored. */
  signal(frame: TypingEvent): Promise<void>;
  conversations(cursor: string | undefined, limit: number): Promise<Result<ConversationPage>>;
  search(q: SearchQuery): Promise<Result<SearchPage>>;
  /** A page of the user's direct chat with `peer` (as the `dm_history` frame). */
  history(peer: string, q: DmHistoryQuery): Promise<Result<DmHistoryPage>>;
  /** A friend's presence change, pushed to this user's devices. */
  presence(frame: PresenceFrame): Promise<void>;
  /** Friends or blocks changed in D1: drop the cached lists (and `removed`'s pending deliveries' gate). */
  invalidateFriends(removed?: string): Promise<void>;
}

/** `GroupObject`, one per group id: record, members, roles and the history, each event stored once. */
export interface GroupRpc {
  create(creator: string, input: CreateGroupInput): Promise<Result<GroupInfo>>;
  command<C extends GroupCommand>(actor: Actor, cmd: C): Promise<Result<CommandResult<C>>>;
  /** Stores each post with the next gseq (or returns the one stored for its cmid), then fans out. */
  post(requests: PostRequest[]): Promise<Result<Posted>[]>;
  amend(actor: string, req: AmendRequest): Promise<Result<UpdateResult>>;
  typing(actor: string, frame: TypingEvent): Promise<Result<{ relayed: boolean }>>;
  /** sendToGroup: a backend push stored once per push id. */
  notice(
    pushId: string,
    content: PushContent,
    exceptUids: string[],
    exceptDevices: { uid: string; device: string }[]
  ): Promise<Result<z.infer<typeof pushGroupResultSchema>>>;
  /** `uid`'s object has sockets: push to it from now on, and page its stream after `after`. */
  attach(uid: string, after: number, limit: number): Promise<Result<GroupPage & { member: boolean }>>;
  page(uid: string, after: number, limit: number): Promise<Result<GroupPage & { member: boolean }>>;
  summary(uid: string, read: number, hidden: string[]): Promise<Result<GroupSummary | null>>;
  /** The message `mid` as `uid` sees it; with `markRead`, `uid` read up to it (kept here while the group is small). */
  message(uid: string, mid: string, markRead?: boolean): Promise<Result<{ gseq: number; message: StoredMessage; unreadAfter: number }>>;
  /** Who read `mid`, for a member (or null: the backend); groups up to GROUP_READ_STATE_MAX members. */
  reads(actor: string | null, mid: string): Promise<Result<GroupReads>>;
  edits(uid: string, mid: string): Promise<Result<EditsResult>>;
  search(uid: string, like: string, before: string | undefined, limit: number): Promise<Result<StoredMessage[]>>;
  stats(): Promise<Result<GroupStats>>;
  /** Devices of the members online now, from an answer at most `maxAgeMs` old. */
  onlineClients(maxAgeMs: number): Promise<Result<OnlineClient[]>>;
}

/** `RelayObject`, stateless: pushes one chunk of a big group's live push to members' objects. */
export interface RelayRpc {
  relay(gid: string, batch: [string, LiveRun[]][], concurrency: number): Promise<PushOutcome>;
}

/** A user's presence as a friend may see it. */
export interface LastSeen {
  uid: string;
  online: boolean;
  /** When their last device left (ms); null when unknown or hidden. */
  lastSeen: number | null;
}

/** What one presence shard counts. */
export interface PresenceStats {
  users: number;
  connections: number;
  messages: number;
  broadcastsPending: number;
}

/** `PresenceObject`, one per registry shard: leases of the users online, and sendToAll jobs. */
export interface PresenceRpc {
  /** Online users after `after`, in id order. */
  list(after: string, limit: number): Promise<string[]>;
  stats(): Promise<PresenceStats>;
  count(): Promise<number>;
  /** Queues a sendToAll to this shard's users; how many it reaches. */
  broadcast(pushId: string, event: Deliverable): Promise<number>;
  /** `uid` is online with `devices` sockets until `until` (a lease); `sent` adds to the messages counter. */
  setOnline(uid: string, devices: number, until: number, sent?: number): Promise<void>;
  /** `uid` left; with `lastSeen` (ms) their last-seen time is set, with null forgotten (hidden). */
  setOffline(uid: string, sent?: number, lastSeen?: number | null): Promise<void>;
  /** Forgets `uid`'s last-seen time. */
  hideLastSeen(uid: string): Promise<void>;
  /** For each of `uids`: online now, and when they last left (null: unknown or hidden). */
  seen(uids: string[]): Promise<LastSeen[]>;
  /** The ones of `uids` online now. */
  filterOnline(uids: string[]): Promise<string[]>;
}

/** `SchedulerObject`: the deployment's scheduled pushes. */
export interface SchedulerRpc {
  create(b: CreateScheduleBody): Promise<Schedule>;
  list(): Promise<Schedule[]>;
  get(id: string): Promise<Schedule | undefined>;
  cancel(id: string): Promise<boolean>;
}
