import { newEventId } from "../lib/ids";
import { type HistoryEvent, type MessageEvent, ProtocolError, type UpdateEvent, type UpdateResult } from "../protocol";
import type { GroupContext } from "./group-commands";
import { applyUpdate, decideUpdate } from "../rules/message-state";
import type { AmendRequest } from "../rpc/calls";

type StoredMessage = Omit<MessageEvent, "seq">;

/**
 * Changes a message of the group's history for `ctx.actor`: checks first
 * ({@link decideUpdate}; nothing changes when refused), then stores an `update` event with the next
 * gseq, which the fan-out delivers to every member who received the message
 * (a recall also to former members who did: their copies lose the text too),
 * and rewrites the history entry. Synchronous, so it commits atomically.
 *
 * Any member who received the message may react; the owner and admins
 * may recall any message at any time; a muted author may not edit.
 * Returns the answer and, when something changed, the stored update.
 */
export function amend(
  ctx: GroupContext & { recallWindowMs: number },
  req: AmendRequest
): { result: UpdateResult; update?: Omit<UpdateEvent, "seq"> } {
  const { state, actor, now } = ctx;
  if (actor === null) throw new ProtocolError("forbidden", "the backend does not change messages");
  const member = state.member(actor);
  if (!member) throw new ProtocolError("not_member", "you are not a member of this group");
  const found = state.history.byEid(req.mid);
  // Messages from before the actor joined are not theirs to see.
  if (!found || found.event.type !== "message" || found.gseq <= member.joinedGseq) {
    throw new ProtocolError("unknown_message", `no message ${req.mid} in this group`);
  }
  const msg = found.event as StoredMessage;
  const fields = decideUpdate(msg, req, { uid: actor, moderator: member.role !== "member", now, recallWindowMs: ctx.recallWindowMs });
  if (!fields) return { result: { mid: req.mid, changed: false } };
  // A muted member may still react and recall, but not edit.
  if (fields.op === "edit" && member.mutedUntil !== null && member.mutedUntil > now) {
    throw new ProtocolError("muted", `you are muted until ${new Date(member.mutedUntil).toISOString()}`);
  }
  const update = state.history.append(
    {
      type: "update",
      eid: newEventId(now),
      chat: "group",
      from: actor,
      to: state.meta()!.id,
      mid: req.mid,
      ts: now,
      mgseq: found.gseq,
      ...fields
    },
    fields.op === "recall" ? { extra: state.formerHolders(found.gseq) } : {}
  ) as Omit<UpdateEvent, "seq">;
  const next = applyUpdate(msg, update);
  if (next) state.history.rewrite(found.gseq, next, msg as HistoryEvent);
  if (req.op === "recall") state.history.scrub(req.mid);
  return {
    result: { mid: req.mid, changed: true, gseq: update.gseq, ...(fields.version !== undefined ? { version: fields.version } : {}) },
    update
  };
}
