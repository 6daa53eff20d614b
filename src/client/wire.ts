/** What the client needs of the platform: the socket surface, framing and small utilities. */

/** The WebSocket surface the client needs (browsers' and Node 22's built-in WebSocket). */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "message", fn: (e: { data: unknown }) => void): void;
  addEventListener(type: "close", fn: (e: { code: number; reason: string }) => void): void;
  addEventListener(type: "error", fn: (e: unknown) => void): void;
}
export type SocketFactory = new (url: string, protocols?: string | string[]) => SocketLike;

/** Subprotocol offered beside the token; the server echoes it. */
export const SUBPROTOCOL = "im.v1";

/**
 * Joins frames into WebSocket messages the server takes: at most 50 frames
 * each (it allows 100) and half its 16 × `maxFrameBytes` batch limit.
 */
export function batchFrames(frames: readonly string[], maxFrameBytes: number): string[] {
  const budget = maxFrameBytes * 8;
  const out: string[] = [];
  let batch: string[] = [];
  let bytes = 0;
  for (const f of frames) {
    const size = utf8Length(f) + 1;
    if (batch.length > 0 && (batch.length >= 50 || bytes + size > budget)) {
      out.push(batch.join("\n"));
      batch = [];
      bytes = 0;
    }
    batch.push(f);
    bytes += size;
  }
  if (batch.length > 0) out.push(batch.join("\n"));
  return out;
}

const encoder = new TextEncoder();
function utf8Length(s: string): number {
  return s.length * 3 <= 1024 ? s.length * 3 : encoder.encode(s).byteLength;
}

/** Clears a timeout or interval, if set (typed for browsers, Node and workerd alike). */
export function stopTimer(t: ReturnType<typeof setTimeout> | ReturnType<typeof setInterval> | undefined): void {
  if (t !== undefined) clearTimeout(t as Parameters<typeof clearTimeout>[0]);
}

/** A random id; `crypto.getRandomValues` works where `randomUUID` does not (plain http on a LAN). */
export function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}
