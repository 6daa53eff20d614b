import { encodeServerFrame, type ServerFrame } from "../protocol";
import { renderForCompat } from "./compat/render";
import { attachmentOf, safeSend, sendUnbatched } from "./connection";

/** A user's open sockets, and which of them are seed (compat) sockets. */
export interface UserSockets {
  all: readonly WebSocket[];
  compat: readonly WebSocket[];
}

/**
 * Pushes `frame` (or its encoding: frames newline-separated, as one socket
 * message carries them) to every socket of `uid` but the excepted devices:
 * v1 sockets get it as encoded, compat sockets each frame alone in the
 * seed's shape (none when it has no seed shape). Returns how many devices
 * it reached, and the (last) compat device it reached.
 */
export function pushToSockets(
  uid: string,
  sockets: UserSockets,
  frame: ServerFrame | string,
  except?: string | readonly string[]
): { devices: number; compatDevice?: string } {
  const skip = except === undefined ? [] : typeof except === "string" ? [except] : except;
  let text: string | undefined;
  let seedTexts: string[] | undefined;
  let devices = 0;
  let compatDevice: string | undefined;
  for (const ws of sockets.all) {
    if (skip.length > 0 && skip.includes(attachmentOf(ws)?.device ?? "")) continue;
    if (sockets.compat.length > 0 && sockets.compat.includes(ws)) {
      seedTexts ??= (typeof frame === "string" ? frame.split("\n").map((l) => JSON.parse(l) as ServerFrame) : [frame]).flatMap((f) => renderForCompat(f, uid) ?? []);
      if (seedTexts.length === 0 || !seedTexts.every((t) => sendUnbatched(ws, t))) continue;
      compatDevice = attachmentOf(ws)?.device;
      devices++;
    } else if (safeSend(ws, (text ??= typeof frame === "string" ? frame : encodeServerFrame(frame)))) {
      devices++;
    }
  }
  return { devices, compatDevice };
}
