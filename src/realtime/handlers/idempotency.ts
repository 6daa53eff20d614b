import { type MessageEvent, ProtocolError, type SendFrame } from "../../protocol";

/** A `cmid` names one message: reusing it for different content is a client bug (`conflict`). */
export function assertSameMessage(sent: MessageEvent, f: SendFrame): void {
  if (
    sent.to !== f.to ||
    sent.chat !== f.chat ||
    sent.kind !== f.kind ||
    JSON.stringify(sent.body) !== JSON.stringify(f.body)
  ) {
    throw new ProtocolError("conflict", `cmid ${f.cmid} was already used for a different message`);
  }
}
