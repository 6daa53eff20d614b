import { groupTag, newEventId } from "../lib/ids";
import {
  type GroupAction,
  type GroupInfo,
  type HistoryEvent,
  type JoinPolicy,
  type Member,
  type Mentions,
  PAGE_BYTES,
  ProtocolError,
  type Role
} from "../protocol";
import type { GroupState } from "../store/group-state";
import { bodyChanged } from "../rules/message-state";
import { strangerMayPass } from "../rules/gate";
import type { MemberRow } from "../db/groups";
import type { Actor, CommandResult, CommandResults, GroupCommand, PostRequest } from "../rpc/calls";
import { type ActorRole, actorRole, assertManage, assertMayPost, assertMember, assertRole } from "../rules/group-roles";

/** Read-only commands, still allowed after a dismiss. */
export const READ_OPS: ReadonlySet<GroupCommand["op"]> = new Set(["info", "members", "history"]);

export interface GroupContext {
  state: GroupState;
  actor: Actor;
  now: number;
  maxMembers: number;
  /** The seed's control kinds: messages of these (in its shape) are not conversation messages. */
  strangerKinds: ReadonlySet<string>;
}

/** The actor's standing in the group (see rules/group-roles.ts). */
function roleOf(ctx: GroupContext): ActorRole {
  return actorRole(ctx.actor, ctx.actor === null ? undefined : ctx.state.member(ctx.actor));
}

function requireMember(ctx: GroupContext): Role | "system" {
  return assertMember(roleOf(ctx));
}

function requireRole(ctx: GroupContext, roles: readonly Role[], what: string): ActorRole {
  return assertRole(roleOf(ctx), roles, what);
}

function requireTarget(ctx: GroupContext, uid: string): MemberRow {
  const m = ctx.state.member(uid);
  if (!m) throw new ProtocolError("not_member", `${uid} is not a member of this group`);
  return m;
}

function requireRoom(ctx: GroupContext): void {
  if (ctx.state.memberCount() >= ctx.maxMembers) {
    throw new ProtocolError("group_full", `groups are limited to ${ctx.maxMembers} members`);
  }
}

/** Appends a system event; `extra` are non-members who must get it too (in their inbox). */
export function emit(
  ctx: GroupContext,
  action: GroupAction,
  fields: { target?: string; role?: Role; until?: number; name?: string; joinPolicy?: JoinPolicy; announce?: boolean } = {},
  extra: string[] = []
): HistoryEvent {
  return ctx.state.history.append(
    { type: "group", eid: newEventId(ctx.now), gid: ctx.state.meta()!.id, action, actor: ctx.actor, ...fields, ts: ctx.now },
    { extra }
  );
}

export function groupInfo(state: GroupState): GroupInfo {
  const m = state.meta()!;
  return { ...m, memberCount: state.memberCount(), head: state.head() };
}

function memberView(m: MemberRow): Member {
  return { uid: m.uid, role: m.role, joinedAt: m.joinedAt, mutedUntil: m.mutedUntil };
}

function addMember(ctx: GroupContext, uid: string, role: Role): void {
  ctx.state.putMember({ uid, role, joinedAt: ctx.now, joinedGseq: ctx.state.head(), mutedUntil: null });
  ctx.state.dropInvite(uid);
}

/**
 * Runs one command against the group's state: permission checks first, then
 * the change and its system event, all synchronous so it commits atomically.
 * Throws ProtocolError with nothing changed when refused.
 */
export function execute<C extends GroupCommand>(ctx: GroupContext, cmd: C): CommandResult<C> {
  // Each case's answer is checked against its row of CommandResults; the
  // cast only forgets which case ran (TypeScript cannot narrow `C`).
  return run(ctx, cmd) as CommandResult<C>;
}

function run(ctx: GroupContext, cmd: GroupCommand): CommandResults[GroupCommand["op"]] {
  const { state } = ctx;
  switch (cmd.op) {
    case "info":
      requireMember(ctx);
      return groupInfo(state) satisfies CommandResults["info"];
    case "members":
      requireMember(ctx);
      return { members: state.members().map(memberView) } satisfies CommandResults["members"];
    case "history":
      requireMember(ctx);
      return history(state, cmd) satisfies CommandResults["history"];
    case "join": {
      if (ctx.actor === null) throw new ProtocolError("bad_request", "the backend adds members with `add`");
      if (state.member(ctx.actor)) throw new ProtocolError("already_member", "you are already a member");
      if (state.meta()!.settings.joinPolicy !== "open" && !state.isInvited(ctx.actor)) {
        throw new ProtocolError("forbidden", "this group is invite-only");
      }
      requireRoom(ctx);
      addMember(ctx, ctx.actor, "member");
      emit(ctx, "joined", { target: ctx.actor });
      return groupInfo(state) satisfies CommandResults["join"];
    }
    case "add": {
      if (ctx.actor !== null) throw new ProtocolError("forbidden", "users join or are invited");
      if (state.member(cmd.uid)) throw new ProtocolError("already_member", `${cmd.uid} is already a member`);
      requireRoom(ctx);
      addMember(ctx, cmd.uid, cmd.role ?? "member");
      emit(ctx, "joined", { target: cmd.uid, role: cmd.role ?? "member" });
      return memberView(state.member(cmd.uid)!) satisfies CommandResults["add"];
    }
    case "invite": {
      requireRole(ctx, ["owner", "admin"], "invite");
      if (state.member(cmd.uid)) throw new ProtocolError("already_member", `${cmd.uid} is already a member`);
      if (!state.isInvited(cmd.uid)) {
        state.invite(cmd.uid, ctx.actor, ctx.now);
        emit(ctx, "invited", { target: cmd.uid }, [cmd.uid]);
      }
      return { invited: cmd.uid } satisfies CommandResults["invite"];
    }
    case "leave": {
      const role = requireMember(ctx);
      if (role === "system") throw new ProtocolError("bad_request", "the backend removes members with `kick`");
      if (role === "owner") {
        throw new ProtocolError("owner_must_transfer", "the owner must transfer ownership (or dismiss the group) before leaving");
      }
      state.removeMember(ctx.actor!, ctx.now);
      emit(ctx, "left", { target: ctx.actor! });
      return { left: ctx.state.meta()!.id } satisfies CommandResults["leave"];
    }
    case "kick": {
      const role = requireRole(ctx, ["owner", "admin"], "kick");
      if (cmd.uid === ctx.actor) throw new ProtocolError("bad_request", "use group_leave to leave");
      const target = requireTarget(ctx, cmd.uid);
      assertManage(role, target, "kicked");
      state.removeMember(cmd.uid, ctx.now);
      emit(ctx, "kicked", { target: cmd.uid });
      return { kicked: cmd.uid } satisfies CommandResults["kick"];
    }
    case "role": {
      requireRole(ctx, ["owner"], "change roles");
      const target = requireTarget(ctx, cmd.uid);
      if (target.role === "owner") throw new ProtocolError("forbidden", "use group_transfer to change the owner");
      if (target.role === cmd.role) return { ...memberView(target), changed: false } satisfies CommandResults["role"];
      state.putMember({ ...target, role: cmd.role });
      emit(ctx, "role_changed", { target: cmd.uid, role: cmd.role });
      return { ...memberView(state.member(cmd.uid)!), changed: true } satisfies CommandResults["role"];
    }
    case "transfer": {
      requireRole(ctx, ["owner"], "transfer ownership");
      const target = requireTarget(ctx, cmd.uid);
      if (target.role === "owner") throw new ProtocolError("bad_request", `${cmd.uid} already owns the group`);
      const meta = state.meta()!;
      const old = state.member(meta.owner);
      if (old) state.putMember({ ...old, role: "admin" });
      state.putMember({ ...target, role: "owner" });
      state.setMeta({ ...meta, owner: cmd.uid });
      emit(ctx, "owner_changed", { target: cmd.uid });
      return groupInfo(state) satisfies CommandResults["transfer"];
    }
    case "mute": {
      const role = requireRole(ctx, ["owner", "admin"], "mute members");
      const target = requireTarget(ctx, cmd.uid);
      assertManage(role, target, "muted");
      mute(ctx, target, cmd.seconds);
      return memberView(state.member(cmd.uid)!) satisfies CommandResults["mute"];
    }
    case "update": {
      // Both checks before either change, so a refusal changes nothing.
      const target = requireTarget(ctx, cmd.uid);
      if (cmd.role !== undefined) {
        requireRole(ctx, ["owner"], "change roles");
        if (target.role === "owner") throw new ProtocolError("forbidden", "use transfer to change the owner");
      }
      if (cmd.seconds !== undefined) assertManage(requireRole(ctx, ["owner", "admin"], "mute members"), target, "muted");
      if (cmd.role !== undefined) execute(ctx, { op: "role", uid: cmd.uid, role: cmd.role });
      if (cmd.seconds !== undefined) mute(ctx, state.member(cmd.uid)!, cmd.seconds);
      return memberView(state.member(cmd.uid)!) satisfies CommandResults["update"];
    }
    case "settings": {
      requireRole(ctx, ["owner"], "change the group's settings");
      const meta = state.meta()!;
      const { announce: _a, ...rest } = meta.settings;
      const announce = cmd.announce ?? meta.settings.announce === true;
      const settings = { ...rest, joinPolicy: cmd.joinPolicy ?? meta.settings.joinPolicy, ...(announce ? { announce: true as const } : {}) };
      const changed = {
        ...(settings.joinPolicy !== meta.settings.joinPolicy ? { joinPolicy: settings.joinPolicy } : {}),
        ...(announce !== (meta.settings.announce === true) ? { announce } : {})
      };
      if (Object.keys(changed).length === 0) return groupInfo(state) satisfies CommandResults["settings"];
      state.setMeta({ ...meta, settings });
      emit(ctx, "settings_changed", changed);
      return groupInfo(state) satisfies CommandResults["settings"];
    }
    case "dismiss": {
      requireRole(ctx, ["owner"], "dismiss the group");
      state.setMeta({ ...state.meta()!, dismissedAt: ctx.now });
      state.mirror({ op: "unmember_all", gid: state.meta()!.id });
      emit(ctx, "dismissed");
      return groupInfo(state) satisfies CommandResults["dismiss"];
    }
  }
}

/** Mutes until now + seconds, or unmutes (0); an unmute of someone not muted records nothing. */
function mute(ctx: GroupContext, target: MemberRow, seconds: number): void {
  const until = seconds === 0 ? null : ctx.now + seconds * 1000;
  if (until === null && target.mutedUntil === null) return;
  ctx.state.putMember({ ...target, mutedUntil: until });
  if (until === null) emit(ctx, "unmuted", { target: target.uid });
  else emit(ctx, "muted", { target: target.uid, until });
}

/**
 * The permission part of `invite` and `add`, run before the target user is
 * looked up in D1, so outsiders cannot probe which user ids exist.
 */
export function precheck(ctx: GroupContext, cmd: GroupCommand): void {
  if (cmd.op === "invite") requireRole(ctx, ["owner", "admin"], "invite");
  if (cmd.op === "add" && ctx.actor !== null) throw new ProtocolError("forbidden", "users join or are invited");
}

/**
 * A page of history, oldest first: forward from `after`, or the newest
 * before `before`. It also stops at about {@link PAGE_BYTES} of events (at
 * least one), on the side away from its cursor; `more` says there is more.
 */
function history(state: GroupState, q: { before?: number; after?: number; limit: number }) {
  if (q.after !== undefined) {
    const rows = state.history.range(q.after, Number.MAX_SAFE_INTEGER, q.limit + 1).map((r) => publicView(r.event));
    const events = withinBytes(rows.slice(0, q.limit));
    return { events, more: rows.length > events.length };
  }
  const rows = state.history.before(q.before ?? state.head() + 1, q.limit + 1).map(publicView);
  const events = withinBytes(rows.slice(-q.limit).reverse()).reverse();
  return { events, more: rows.length > events.length };
}

/** The longest prefix of `events` within {@link PAGE_BYTES} of JSON, at least one. */
function withinBytes(events: HistoryEvent[]): HistoryEvent[] {
  let bytes = 0;
  let take = 0;
  while (take < events.length) {
    bytes += JSON.stringify(events[take]).length;
    if (take > 0 && bytes > PAGE_BYTES) break;
    take++;
  }
  return take === events.length ? events : events.slice(0, take);
}

/** A history entry as members see it: the sender's client id and device stay private. */
export function publicView(e: HistoryEvent): HistoryEvent {
  if (e.type !== "message") return e;
  const { cmid: _c, device: _d, ...rest } = e;
  return rest;
}

/**
 * Stores a member's message with the next gseq, or returns the one already
 * stored for this (sender, cmid). Muted members, outsiders and `@all` from
 * plain members are refused; mentions of non-members are dropped.
 */
export function post(ctx: GroupContext, req: PostRequest): HistoryEvent {
  const { state } = ctx;
  const member = state.member(req.sender);
  if (!member) throw new ProtocolError("not_member", "you are not a member of this group");
  const prior = state.history.byCmid(req.sender, req.cmid);
  if (prior) {
    const changed = prior.type === "message" && bodyChanged(prior);
    if (prior.type !== "message" || prior.kind !== req.kind || (!changed && JSON.stringify(prior.body) !== JSON.stringify(req.body))) {
      throw new ProtocolError("conflict", `cmid ${req.cmid} was already used for a different message`);
    }
    return prior;
  }
  if (member.mutedUntil !== null && member.mutedUntil > ctx.now) {
    throw new ProtocolError("muted", `you are muted until ${new Date(member.mutedUntil).toISOString()}`);
  }
  assertMayPost(member.role, state.meta()!.settings);
  let mentions: Mentions | undefined;
  if (req.mentions) {
    if (req.mentions.all && member.role === "member") {
      throw new ProtocolError("forbidden", "only the owner and admins may mention everyone");
    }
    const users = [...new Set(req.mentions.users ?? [])].filter((u) => state.member(u));
    mentions = { ...(users.length ? { users } : {}), ...(req.mentions.all ? { all: true } : {}) };
  }
  const gid = state.meta()!.id;
  return state.history.append(
    {
      type: "message",
      mid: newEventId(ctx.now, groupTag(gid)),
      chat: "group",
      from: req.sender,
      to: gid,
      kind: req.kind,
      body: req.body as never,
      ts: ctx.now,
      ...(mentions ? { mentions } : {}),
      ...(req.reply ? { reply: req.reply } : {}),
      ...(req.forwarded ? { forwarded: req.forwarded } : {}),
      cmid: req.cmid,
      ...(req.device !== undefined ? { device: req.device } : {})
    },
    { sender: req.sender, cmid: req.cmid, conv: !strangerMayPass(ctx.strangerKinds, req.kind, req.body) }
  );
}
