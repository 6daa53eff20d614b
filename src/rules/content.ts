import { z } from "zod";
import type { HookFailure } from "../lib/config";
import { bodySchema, ProtocolError } from "../protocol";

/*
 * Moderation decisions, pure: the built-in word list, and how a send treats
 * the before-send hook's answer (or its silence). The hook call itself is in
 * realtime/moderation.ts.
 */

/** The first of `words` (lower case) that `text` contains, ignoring case; none for no text or no list. */
export function blockedWord(text: string | null, words: readonly string[]): string | undefined {
  if (text === null || words.length === 0) return undefined;
  const t = text.toLowerCase();
  return words.find((w) => t.includes(w));
}

/**
 * What the app's hook answers about one message: pass it, refuse it (the
 * sender sees `rejected`, with the hook's own `code` and `message`), or
 * store this body instead.
 */
export const hookAnswerSchema = z.discriminatedUnion("action", [
  z.object({ action: z.literal("allow") }),
  z.object({
    action: z.literal("reject"),
    code: z.string().regex(/^[a-z0-9_]{1,64}$/).optional(),
    message: z.string().max(200).optional()
  }),
  z.object({ action: z.literal("rewrite"), body: bodySchema })
]);
export type HookAnswer = z.infer<typeof hookAnswerSchema>;

/**
 * The body to store for a hook's answer, or the refusal to throw. `answer`
 * undefined: the hook failed; `open` lets the message through unchanged,
 * `closed` refuses it as `unavailable` (retryable: resend with the same cmid).
 */
export function decide(body: unknown, answer: HookAnswer | undefined, failure: HookFailure): unknown {
  if (answer === undefined) {
    if (failure === "open") return body;
    throw new ProtocolError("unavailable", "the message could not be checked; resend with the same cmid");
  }
  if (answer.action === "allow") return body;
  if (answer.action === "rewrite") return answer.body;
  throw new ProtocolError("rejected", answer.message ?? "the message was rejected", answer.code ? { reason: answer.code } : undefined);
}

/** The refusal of a message that contains a blocked word (which the error does not repeat). */
export function wordRejection(): ProtocolError {
  return new ProtocolError("rejected", "the message contains a blocked word", { reason: "blocked_word" });
}
