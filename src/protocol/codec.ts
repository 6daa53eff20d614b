import { type ClientFrame, clientFrameSchema, CLIENT_FRAME_TYPES } from "./client-frames";
import { type ErrorBody, errorBody, fieldErrors } from "./errors";
import type { RequestId } from "./primitives";
import { requestIdSchema } from "./primitives";
import type { ServerFrame } from "./server-frames";

/** Outcome of decoding one client frame. On failure `id` is echoed when readable. */
export type Decoded =
  | { ok: true; frame: ClientFrame }
  | { ok: false; id: RequestId | null; error: ErrorBody };

const encoder = new TextEncoder();

/** UTF-8 length of `s`, computed only when the cheap bounds cannot decide. */
export function exceedsBytes(s: string, max: number): boolean {
  if (s.length > max) return true;
  if (s.length * 3 <= max) return false;
  return encoder.encode(s).byteLength > max;
}

/** Most frames one WebSocket message may carry. */
export const MAX_FRAMES_PER_MESSAGE = 100;

/**
 * Splits one WebSocket message into frames and decodes each. A message is
 * one JSON frame, or several separated by newlines (as Centrifugo batches
 * commands): JSON never contains a raw newline, so a client sending many
 * frames at once may join them with "\n". Each frame is held to `maxBytes`;
 * a batch to 16 × `maxBytes` and {@link MAX_FRAMES_PER_MESSAGE} frames.
 */
export function decodeMessage(raw: string | ArrayBuffer, maxBytes: number): Decoded[] {
  if (typeof raw !== "string" || !raw.includes("\n")) return [decodeClientFrame(raw, maxBytes)];
  if (exceedsBytes(raw, maxBytes * 16)) {
    return [fail(null, "frame_too_large", `a batch of frames is limited to ${maxBytes * 16} bytes`)];
  }
  if (isOneJsonValue(raw)) return [decodeClientFrame(raw, maxBytes)]; // pretty-printed single frame
  const lines = raw.split("\n").filter((l) => l.trim() !== "");
  if (lines.length === 1) return [decodeClientFrame(lines[0]!, maxBytes)];
  if (lines.length > MAX_FRAMES_PER_MESSAGE) {
    return [fail(null, "frame_too_large", `a message carries at most ${MAX_FRAMES_PER_MESSAGE} frames`)];
  }
  return lines.map((l) => decodeClientFrame(l, maxBytes));
}

function isOneJsonValue(raw: string): boolean {
  try {
    JSON.parse(raw);
    return true;
  } catch {
    return false;
  }
}

/**
 * Parses one frame: size limit, JSON, then the frame schema. Never throws;
 * every failure is a coded error the caller sends back.
 */
export function decodeClientFrame(
  raw: string | ArrayBuffer,
  maxBytes: number
): Decoded {
  if (typeof raw !== "string") {
    return fail(null, "binary_not_supported", "send JSON text frames");
  }
  if (exceedsBytes(raw, maxBytes)) {
    return fail(idOfOversize(raw), "frame_too_large", `frames are limited to ${maxBytes} bytes`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return fail(null, "invalid_json", "frame is not valid JSON");
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return fail(null, "invalid_frame", "frame must be a JSON object");
  }
  const obj = json as Record<string, unknown>;
  const idParse = requestIdSchema.safeParse(obj.id);
  const id = idParse.success ? idParse.data : null;
  if (!CLIENT_FRAME_TYPES.includes(obj.type as ClientFrame["type"])) {
    return fail(id, "unknown_type", `unknown frame type ${JSON.stringify(obj.type ?? null)}`);
  }
  let parsed: ReturnType<typeof clientFrameSchema.safeParse>;
  try {
    parsed = clientFrameSchema.safeParse(obj);
  } catch {
    // z.json() recurses; a deeply nested body overflows the stack.
    return fail(id, "invalid_frame", "frame is nested too deeply");
  }
  if (!parsed.success) {
    return fail(id, "invalid_frame", "frame does not match its schema", fieldErrors(parsed.error.issues));
  }
  // A message body is kept exactly as parsed: zod's copy would turn a
  // `__proto__` key into a prototype instead of data.
  if ("body" in parsed.data) (parsed.data as { body: unknown }).body = obj.body;
  return { ok: true, frame: parsed.data };
}

/** Frames up to this size are still parsed (not validated) to correlate the error. */
const CORRELATE_MAX = 1024 * 1024;

function idOfOversize(raw: string): RequestId | null {
  if (raw.length > CORRELATE_MAX) return null;
  try {
    const id = requestIdSchema.safeParse((JSON.parse(raw) as { id?: unknown })?.id);
    return id.success ? id.data : null;
  } catch {
    return null;
  }
}

function fail(
  id: RequestId | null,
  code: ErrorBody["code"],
  message: string,
  fields?: Record<string, string>
): Decoded {
  return { ok: false, id, error: errorBody(code, message, fields) };
}

/** Serializes a server frame. Kept as one function so framing can change in one place. */
export function encodeServerFrame(frame: ServerFrame): string {
  return JSON.stringify(frame);
}
