import { attachmentOf, type CompatMarks } from "../connection";

/**
 * Delivery confirmation for compat sockets, kept in the socket's attachment
 * so it survives hibernation. The seed's protocol has no acks, so a frame
 * from the client (its heartbeat, typically) stands in for one: everything
 * handed to the socket before the client's previous frame was received. If
 * the socket dies abnormally, the rest goes back into the pull queue: a
 * dying socket loses nothing, at the price of a possible repeat.
 */

function update(ws: WebSocket, change: (m: CompatMarks) => CompatMarks): void {
  const a = attachmentOf(ws);
  if (!a?.compat) return;
  const next = change(a.compat);
  if (next === a.compat) return;
  try {
    ws.serializeAttachment({ ...a, compat: next });
  } catch {
    // The socket is closing: its marks no longer matter.
  }
}

/** Seqs `lo`..`hi` were just handed to this socket. */
export function noteHanded(ws: WebSocket, lo: number, hi = lo): void {
  update(ws, (m) => ({ ...m, pend: m.pend ? [Math.min(m.pend[0], lo), Math.max(m.pend[1], hi)] : [lo, hi] }));
}

/** The client sent a frame: what was handed before its previous frame is confirmed. */
export function noteInbound(ws: WebSocket): void {
  update(ws, (m) => (m.pend === null && m.unconf === null ? m : { pend: null, unconf: m.pend }));
}

/** The range of seqs handed to this socket and not confirmed, if any. */
export function unconfirmed(ws: WebSocket): [number, number] | undefined {
  const m = attachmentOf(ws)?.compat;
  if (!m) return undefined;
  const ranges = [m.pend, m.unconf].filter((r): r is [number, number] => r !== null);
  if (ranges.length === 0) return undefined;
  return [Math.min(...ranges.map((r) => r[0])), Math.max(...ranges.map((r) => r[1]))];
}
