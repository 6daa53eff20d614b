import { type InboxEvent, isSeedFrame, SEED_RESERVED_KINDS, seedUid, type ServerFrame } from "../../protocol";

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The seed's view of a pushed frame for `uid`'s compat sockets, as JSON text,
 * or undefined when the seed has no such frame (replies, group system events,
 * the user's own messages: the seed never echoes to the sender).
 *
 * - a message from a compat client: the sender's JSON, unchanged, except that
 *   `fromUid`/`toUid`/`isGroup` are corrected if a v1 sender wrote false ones;
 *   never a message of a kind the seed's server frames use (`pull`, `online`, …);
 * - any other message: `{fromUid, toUid, isGroup, type: kind, id: mid, content: body, ts}`;
 * - a read receipt: `{type: "read", fromUid, toUid, isGroup, id: mid}`;
 * - a backend push (`notice`): its body when that is an object, as the
 *   seed's `sendToUid($uid, json_encode($message))`, else `{type: kind, content: body}`;
 * - friend requests and answers: `friend_request` / `friend_response` with `id` the request id.
 */
export function renderForCompat(frame: ServerFrame | InboxEvent, uid: string): string | undefined {
  switch (frame.type) {
    case "message": {
      // The seed has no recall or delete: a message taken back is simply not handed out any more.
      if (frame.from === uid || SEED_RESERVED_KINDS.has(frame.kind) || frame.recalled || frame.deleted) return undefined;
      const isGroup = frame.chat === "group" ? 1 : 0;
      if (isSeedFrame(frame.body, frame.kind)) {
        const body = { ...frame.body };
        if (String(body.fromUid) !== frame.from) body.fromUid = seedUid(frame.from);
        if (String(body.toUid) !== frame.to) body.toUid = seedUid(frame.to);
        if (Number(body.isGroup ?? 0) !== isGroup && body.isGroup !== (isGroup === 1)) body.isGroup = isGroup;
        return JSON.stringify(body);
      }
      return JSON.stringify({
        fromUid: seedUid(frame.from),
        toUid: seedUid(frame.to),
        isGroup,
        type: frame.kind,
        id: frame.mid,
        content: frame.body,
        ts: frame.ts
      });
    }
    case "receipt":
      // The seed knows read marks only.
      if (frame.from === uid || frame.kind === "delivered") return undefined;
      return JSON.stringify({
        type: "read",
        fromUid: seedUid(frame.from),
        toUid: seedUid(frame.to),
        isGroup: frame.chat === "group" ? 1 : 0,
        id: frame.mid
      });
    case "notice":
      return JSON.stringify(isObject(frame.body) ? frame.body : { type: frame.kind, content: frame.body });
    case "friend_request":
      if (frame.from === uid) return undefined;
      return JSON.stringify({
        type: "friend_request",
        fromUid: seedUid(frame.from),
        toUid: seedUid(frame.to),
        isGroup: 0,
        id: frame.rid,
        ...(frame.message !== undefined ? { content: frame.message } : {})
      });
    case "friend_response":
      if (frame.from === uid) return undefined;
      return JSON.stringify({
        type: "friend_response",
        fromUid: seedUid(frame.from),
        toUid: seedUid(frame.to),
        isGroup: 0,
        id: frame.rid,
        accepted: frame.accepted
      });
    default:
      return undefined;
  }
}
