import { newDeviceId } from "../../lib/ids";
import { unwrap } from "../../lib/result";
import { type ClientFrame, type FrameOf, ProtocolError, type ReplyOf } from "../../protocol";
import type { Conn, Sender, UserHub } from "../hub";
import type { CommandResults, GroupCommand } from "../../rpc/calls";
import { groupStub } from "../../rpc/stubs";
import { assertSameMessage } from "./idempotency";
import { assertMay, moderated, type Outgoing, type SendOutcome } from "./shared";

/** The `group_*` frames other than `group_create` and `group_reads`: each is one command to the group's object. */
export type GroupCommandType = Exclude<Extract<ClientFrame["type"], `group_${string}`>, "group_create" | "group_reads">;
type GroupCommandFrame = FrameOf<GroupCommandType>;

/** The group command each frame becomes (see {@link toCommand}). */
interface OpOf {
  group_join: "join";
  group_leave: "leave";
  group_invite: "invite";
  group_kick: "kick";
  group_dismiss: "dismiss";
  group_members: "members";
  group_role: "role";
  group_transfer: "transfer";
  group_mute: "mute";
  group_history: "history";
  group_info: "info";
  group_settings: "settings";
}

/**
 * Compile-time check that what the group answers each command is what the
 * reply schema of its frame says (protocol/replies.ts): a drift on either
 * side fails the type check here.
 */
type RepliesMatch = { [K in GroupCommandType]: CommandResults[OpOf[K]] extends ReplyOf<K> ? true : K };
type AllTrue<T extends Record<GroupCommandType, true>> = T;
export type GroupRepliesChecked = AllTrue<RepliesMatch>;

/**
 * Group message: the group's object checks membership and mute, stores it
 * once, with a gseq, and answers; nothing is stored here. Its live push
 * reaches the members online, the sender's other devices included; everyone
 * reads it from the group's stream. A resend with the same `cmid` is
 * answered from the group (or, for a message sent before groups were stored
 * once, from this inbox) without a second message.
 */
export async function onGroupSend(hub: UserHub, conn: Sender, frame: Outgoing, outcome: SendOutcome): Promise<ReplyOf<"send">> {
  let f = frame;
  const own = hub.inbox.bySentCmid(f.cmid);
  if (own) {
    outcome.existing = true;
    assertSameMessage(own.event, f);
    return { mid: own.event.mid, seq: own.event.seq, ts: own.event.ts, gseq: own.event.gseq };
  }
  // Moderated again on a resend (the group holds the cmid): a hook answers the same for the same cmid.
  f = await moderated(hub, f);
  const before = hub.groups.memberships.get(f.to);
  const { event: stored, fresh } = unwrap(
    await hub.post(f.to, {
      sender: hub.uid,
      ...(conn.device !== undefined ? { device: conn.device } : {}),
      cmid: f.cmid,
      kind: f.kind,
      body: f.body,
      ...(f.mentions ? { mentions: f.mentions } : {}),
      ...(f.reply ? { reply: f.reply } : {}),
      ...(f.forwarded ? { forwarded: f.forwarded } : {})
    })
  );
  if (stored.type !== "message") throw new ProtocolError("internal", "group stored a non-message");
  if (!fresh) {
    // Stored by an earlier attempt (the group compared the content): a resend.
    outcome.existing = true;
  } else {
    hub.countSent();
    hub.log.info("send", { uid: hub.uid, device: conn.device, chat: "group", to: f.to, mid: stored.mid, gseq: stored.gseq, kind: f.kind });
  }
  // A group this object had not heard of (joined elsewhere): attach, so its pushes come here.
  if (before === undefined) await hub.groups.attach(f.to);
  return { mid: stored.mid, ts: stored.ts, gseq: stored.gseq, prev: (stored.gseq ?? 1) - 1 };
}

/**
 * `group_create`: the sender becomes owner; the id is generated unless given.
 * Nobody is made a member of a group without consent: `members` must be the
 * sender's friends (as in WeChat), by the direct-message gate: anyone else
 * is `stranger` (invite them once the group exists), `blocked` across a block.
 */
export async function onGroupCreate(
  hub: UserHub,
  _conn: Conn,
  f: FrameOf<"group_create">
): Promise<ReplyOf<"group_create">> {
  await Promise.all(f.members.filter((uid) => uid !== hub.uid).map((uid) => assertMay(hub, uid, { what: "friends_only" })));
  const gid = f.gid ?? `g_${newDeviceId()}`;
  const info = unwrap(await groupStub(hub.env, gid).create(hub.uid, { name: f.name, members: f.members, joinPolicy: f.joinPolicy }));
  await hub.groups.attach(gid);
  return info;
}

/**
 * Every other `group_*` frame: forwarded as a command with this user as the
 * actor. An invite across a block is refused here, where the blocks are
 * known (the gate's `invite` crossing; the group checks the rest).
 */
export async function onGroupCommand<K extends GroupCommandType>(hub: UserHub, _conn: Conn, frame: FrameOf<K>): Promise<ReplyOf<K>> {
  const f: GroupCommandFrame = frame;
  if (f.type === "group_invite") await assertMay(hub, f.uid, { what: "invite" });
  const result = unwrap(await groupStub(hub.env, f.gid).command(hub.uid, toCommand(f)));
  if (f.type === "group_join") await hub.groups.attach(f.gid);
  // The answer to OpOf[K], which GroupRepliesChecked proves is a ReplyOf<K>;
  // the cast only recovers K, which toCommand's union return forgets.
  return result as CommandResults[OpOf[K]] as ReplyOf<K>;
}

function toCommand(f: GroupCommandFrame): GroupCommand {
  switch (f.type) {
    case "group_join":
      return { op: "join" };
    case "group_leave":
      return { op: "leave" };
    case "group_invite":
      return { op: "invite", uid: f.uid };
    case "group_kick":
      return { op: "kick", uid: f.uid };
    case "group_dismiss":
      return { op: "dismiss" };
    case "group_members":
      return { op: "members" };
    case "group_role":
      return { op: "role", uid: f.uid, role: f.role };
    case "group_transfer":
      return { op: "transfer", uid: f.uid };
    case "group_mute":
      return { op: "mute", uid: f.uid, seconds: f.seconds };
    case "group_history":
      return { op: "history", before: f.before, after: f.after, limit: f.limit };
    case "group_info":
      return { op: "info" };
    case "group_settings":
      return { op: "settings", ...(f.joinPolicy ? { joinPolicy: f.joinPolicy } : {}), ...(f.announce !== undefined ? { announce: f.announce } : {}) };
  }
}

/** Who read a group message, asked of the group (members only; small groups keep the marks). */
export async function onGroupReads(hub: UserHub, _conn: Conn, f: FrameOf<"group_reads">): Promise<ReplyOf<"group_reads">> {
  return unwrap(await groupStub(hub.env, f.gid).reads(hub.uid, f.mid));
}
