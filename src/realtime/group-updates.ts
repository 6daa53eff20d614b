import { newEventId } from "../lib/ids";
import { MAX_EDITS, type MessageEvent, ProtocolError, type UpdateEvent, type UpdateResult } from "../protocol";
import type { GroupContext } from "./group-commands";
import { applyUpdate, assertNotRecalled, assertReactionRoom } from "./message-state";

/** A change to a group message, as the member's user object hands it over. */
export type AmendRequest =
  | { op: "edit"; mid: string; body: unknown }
  | { op: "recall"; mid: string }
  | { op: "react" | "unreact"; mid: string; emoji: string };

type StoredMessage = Omit<MessageEvent, "seq">;

/**
 * Changes a message of the group's history for `ctx.actor`: checks first
 * (nothing changes when refused), then stores an `update` event with the next
 * gseq, which the fan-out delivers to every member who received the message,
 * and rewrites the history entry. Synchronous, so it commits atomically.
 *
 * - edit: the author only (not while muted), at most MAX_EDITS times;
 * - recall: the author within `recallWindowMs`; the owner and admins, any
 *   message at any time;
 * - react/unreact: any member who received the message.
 */
export function amend(ctx: GroupContext & { recallWindowMs: number }, req: AmendRequest): UpdateResult {
  const { state, actor, now } = ctx;
  if (actor === null) throw new ProtocolError("forbidden", "the backend does not change messages");
  const member = state.member(actor);
  if (!member) throw new ProtocolError("not_member", "you are not a member of this group");
  const found = state.byEid(req.mid);
  // Messages from before the actor joined are not theirs to see.
  if (!found || found.event.type !== "message" || found.gseq <= member.joinedGseq) {
    throw new ProtocolError("unknown_message", `no message ${req.mid} in this group`);
  }
  const msg = found.event as StoredMessage;
  if (msg.recalled && req.op === "recall") return { mid: req.mid, changed: false };
  assertNotRecalled(msg);
  const fields: Partial<UpdateEvent> = {};
  switch (req.op) {
    case "edit":
      if (msg.from !== actor) throw new ProtocolError("not_author", "only its author may edit a message");
      if (member.mutedUntil !== null && member.mutedUntil > now) {
        throw new ProtocolError("muted", `you are muted until ${new Date(member.mutedUntil).toISOString()}`);
      }
      if ((msg.edited ?? 0) >= MAX_EDITS) throw new ProtocolError("bad_request", `a message may be edited at most ${MAX_EDITS} times`);
      fields.body = req.body as UpdateEvent["body"];
      fields.version = (msg.edited ?? 0) + 1;
      break;
    case "recall":
      if (member.role === "member") {
        if (msg.from !== actor) throw new ProtocolError("not_author", "only its author, the owner and admins may recall a message");
        if (now - msg.ts > ctx.recallWindowMs) {
          throw new ProtocolError("recall_expired", `a message may be recalled within ${ctx.recallWindowMs / 1000} s of sending`);
        }
      }
      break;
    case "react":
    case "unreact": {
      const has = msg.reactions?.[req.emoji]?.includes(actor) ?? false;
      if ((req.op === "react") === has) return { mid: req.mid, changed: false };
      if (req.op === "react") assertReactionRoom(msg, req.emoji);
      fields.emoji = req.emoji;
      break;
    }
  }
  const update = state.append({
    type: "update",
    eid: newEventId(now),
    op: req.op,
    chat: "group",
    from: actor,
    to: state.meta()!.id,
    mid: req.mid,
    ts: now,
    mgseq: found.gseq,
    ...fields
  }) as Omit<UpdateEvent, "seq">;
  const next = applyUpdate(msg, update);
  if (next) state.rewrite(found.gseq, next);
  if (req.op === "recall") state.scrub(req.mid);
  return {
    mid: req.mid,
    changed: true,
    gseq: update.gseq,
    ...(fields.version !== undefined ? { version: fields.version } : {})
  };
}
