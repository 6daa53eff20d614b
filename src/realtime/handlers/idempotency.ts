import { type MessageEvent, ProtocolError, type SendFrame } from "../../protocol";
import { bodyChanged } from "../../rules/message-state";

/**
 * A `cmid` names one message: reusing it for different content is a client
 * bug (`conflict`). Once the message was edited, recalled or deleted its body
 * no longer matches a resend, so only its address and kind are compared.
 */
export function assertSameMessage(sent: MessageEvent, f: SendFrame): void {
  const changed = bodyChanged(sent);
  if (
    sent.to !== f.to ||
    sent.chat !== f.chat ||
    sent.kind !== f.kind ||
    (!changed && JSON.stringify(sent.body) !== JSON.stringify(f.body))
  ) {
    throw new ProtocolError("conflict", `cmid ${f.cmid} was already used for a different message`);
  }
}
