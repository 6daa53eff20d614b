import { type Origin, ProtocolError, type Quote, type SendFrame, type StoredMessage } from "../../protocol";
import type { UserHub } from "../hub";
import { type Crossing, gate } from "../../rules/gate";
import { moderate, moderating } from "../moderation";

/**
 * What more than one frame handler needs: the send's resolved shape, the
 * gate as seen from a user's object, the body cap, the visible-message
 * lookup. Kept out of the handler files so that they form no import
 * cycle (messages.ts imports groups.ts's group send, never the reverse).
 */

/** A send with what the server resolved for it: the quoted message, a forward's origin. */
export type Outgoing = SendFrame & { reply?: Quote; forwarded?: Origin };

/** Whether a send found its `cmid` stored already (a resend). */
export interface SendOutcome {
  existing: boolean;
}

/**
 * Throws what the friendship gate ({@link gate}) refuses `crossing` to
 * `to` with. The cached peers when fresh (no await, so nothing interleaves),
 * and a user lookup only for someone neither a friend nor blocked.
 */
export async function assertMay(hub: UserHub, to: string, crossing: Crossing): Promise<void> {
  const peers = hub.peersNow() ?? (await hub.peers());
  const verdict = gate(peers, to, crossing);
  const decision = "lookup" in verdict ? gate(peers, to, crossing, await hub.userExists(to)) : verdict;
  if (!decision.ok) throw decision.error;
}

/** Message bodies are capped in UTF-8 bytes of their JSON (`message_too_large`). */
export function assertBodySize(hub: UserHub, body: unknown): void {
  if (new TextEncoder().encode(JSON.stringify(body)).byteLength > hub.limits.maxMessageBytes) {
    throw new ProtocolError("message_too_large", `a message body is limited to ${hub.limits.maxMessageBytes} bytes of JSON`);
  }
}

/**
 * The message `mid` as this user sees it: from their inbox, or from the
 * group that stores it (one of theirs, found by the group tag in the id),
 * unless they deleted it for themselves.
 */
export async function visibleMessage(hub: UserHub, mid: string): Promise<StoredMessage> {
  const e = hub.inbox.byEventId(mid);
  if (e) {
    if (e.type !== "message" || e.deleted) throw new ProtocolError("unknown_message", `no message ${mid}`);
    return e;
  }
  return (await hub.groups.message(mid)).message;
}

/** `f` as moderation lets it be stored (realtime/moderation.ts): the same, with a rewritten body, or refused. */
export async function moderated(hub: UserHub, f: Outgoing): Promise<Outgoing> {
  if (!moderating(hub)) return f;
  const body = await moderate(hub, { chat: f.chat, to: f.to, kind: f.kind, body: f.body, cmid: f.cmid });
  if (body === f.body) return f;
  assertBodySize(hub, body);
  return { ...f, body: body as Outgoing["body"] };
}
