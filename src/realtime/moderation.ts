import { sendHookConfig } from "../lib/config";
import { textOf } from "../rules/message-state";
import { blockedWord, decide, type HookAnswer, hookAnswerSchema, wordRejection } from "../rules/content";
import { signature } from "../store/webhooks";
import type { UserHub } from "./hub";

/** A message about to be stored, as the hook sees it. */
export interface Moderated {
  chat: "dm" | "group";
  to: string;
  kind: string;
  body: unknown;
  cmid: string;
}

/**
 * The moderation of a new message, before anything is stored: the built-in
 * word list (BLOCKED_WORDS), then the app's before-send hook if one is set
 * (SEND_HOOK_URL with SEND_HOOK_SECRET), called synchronously with a signed
 * POST and SEND_HOOK_TIMEOUT_MS to answer. Returns the body to store (the
 * hook may rewrite it) or throws `rejected` (or, with the hook failing and
 * SEND_HOOK_FAILURE "closed", the retryable `unavailable`). A rewritten
 * body is checked against the word list too.
 */
/** Whether new messages are moderated at all (a word list or a hook): a send skips every check otherwise. */
export function moderating(hub: UserHub): boolean {
  return hub.limits.blockedWords.length > 0 || sendHookConfig(hub.env) !== undefined;
}

export async function moderate(hub: UserHub, m: Moderated): Promise<unknown> {
  const words = hub.limits.blockedWords;
  if (blockedWord(textOf(m.body), words)) throw wordRejection();
  const hook = sendHookConfig(hub.env);
  if (!hook) return m.body;
  const body = decide(m.body, await ask(hub, hook, m), hub.limits.sendHookFailure);
  if (body !== m.body && blockedWord(textOf(body), words)) throw wordRejection();
  return body;
}

/** The hook's answer, or undefined when it failed to give one in time. */
async function ask(hub: UserHub, hook: { url: string; secret: string }, m: Moderated): Promise<HookAnswer | undefined> {
  const payload = JSON.stringify({ type: "before_send", from: hub.uid, ...m });
  const t = Date.now();
  try {
    const res = await fetch(hook.url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-IM-Signature": await signature(hook.secret, t, payload) },
      body: payload,
      signal: AbortSignal.timeout(hub.limits.sendHookTimeoutMs)
    });
    if (!res.ok) throw new Error(`hook answered ${res.status}`);
    return hookAnswerSchema.parse(await res.json());
  } catch (err) {
    hub.log.warn("send_hook_failed", { uid: hub.uid, to: m.to, error: String(err), policy: hub.limits.sendHookFailure });
    return undefined;
  }
}
