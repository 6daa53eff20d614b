import { ProtocolError } from "../../protocol";
import type { RelayRequest } from "../../rpc/calls";
import { onSend } from "../handlers/messages";
import type { UserHub } from "../hub";

/**
 * The idempotency key of a seed message: its `id` as text (a form POST
 * turns 77 into "77"), per conversation and type. A frame sent over
 * `/ws/compat` and the same frame relayed by the backend share it, so the
 * message is stored once either way.
 */
export async function cmidOf(chat: string, to: string, type: string, id: string | number): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${chat}\n${to}\n${type}\nstring:${id}`));
  return `c_${[...new Uint8Array(digest).slice(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/**
 * A seed chat message the backend relays for this user: sent as a message
 * from no device (so every device of the sender gets its copy, and no
 * compat socket of theirs an echo), through the same gates, budget and
 * moderation as one from a socket. A message stored whose delivery is
 * still being retried (`unavailable`) counts as sent, as on `/ws/compat`.
 */
export async function relaySeedMessage(hub: UserHub, r: RelayRequest): Promise<{ mid: string }> {
  const cmid = await cmidOf(r.chat, r.to, r.kind, r.id ?? `push:${r.push}`);
  const frame = { type: "send" as const, id: 0, cmid, chat: r.chat, to: r.to, kind: r.kind, body: r.body as never };
  try {
    return { mid: (await onSend(hub, { uid: hub.uid }, frame)).mid };
  } catch (err) {
    const stored = err instanceof ProtocolError && err.code === "unavailable" ? hub.inbox.bySentCmid(cmid) : undefined;
    if (stored) return { mid: stored.event.mid };
    throw err;
  }
}
