import type { CompatQueue } from "../../store/compat-queue";
import { COMPAT_DEVICE, type Memberships } from "../../store/memberships";
import { type InboxEvent, type PresenceFrame, seedUid } from "../../protocol";
import { type Attachment, attachmentOf, COMPAT_TAG } from "../connection";
import { CONFIRM_AFTER_MS, sendCompat } from "./handlers";
import { renderForCompat } from "./render";

/** Bytes of a socket's attachment (2,048 at most) its unconfirmed group runs may fill. */
const HANDED_BYTES_MAX = 1_536;

type Handed = Record<string, [gseq: number, at: number]>;

/** Runs handed before `cutoff` (confirmed: their ends, per group) and the rest. */
function splitRuns(handed: Handed, cutoff: number): { done: Record<string, number>; kept: Handed } {
  const done: Record<string, number> = {};
  const kept: Handed = {};
  for (const [gid, [gseq, at]] of Object.entries(handed)) {
    if (at < cutoff) done[gid] = gseq;
    else kept[gid] = [gseq, at];
  }
  return { done, kept };
}

/** The newest runs first, as many as fit {@link HANDED_BYTES_MAX} with the rest of the attachment. */
function fitted(a: Attachment, handed: Handed): Handed {
  const kept: Handed = {};
  let bytes = JSON.stringify({ ...a, handed: {} }).length;
  for (const [gid, run] of Object.entries(handed).sort((x, y) => y[1][1] - x[1][1])) {
    bytes += gid.length + 32;
    if (bytes > HANDED_BYTES_MAX) break;
    kept[gid] = run;
  }
  return kept;
}

/**
 * One user object's side of the seed's protocol: its compat sockets, the
 * pull queue's bookkeeping as sockets come and go, and the seed's `online`
 * list pushed when a friend's presence changes. Users who never opened a
 * compat socket pay one cached flag check.
 */
export class CompatSockets {
  #presenceTurn = 0;

  constructor(
    private readonly ctx: DurableObjectState,
    readonly queue: CompatQueue,
    private readonly memberships: Memberships
  ) {}

  /** Open compat sockets (none, without a lookup, for users who never had one). */
  open(): WebSocket[] {
    if (!this.queue.enabled()) return [];
    return this.ctx.getWebSockets(COMPAT_TAG).filter((ws) => ws.readyState === WebSocket.OPEN);
  }

  devices(): string[] {
    return this.open().map((ws) => attachmentOf(ws)?.device ?? "");
  }

  /**
   * A socket ended: a normal close is a frame from the client like any other
   * (it confirms what came well before it). What it did not confirm passes
   * to the user's other compat sockets that were open when it was handed
   * (every compat socket gets every push and `pull` reply, so they have it
   * too), and otherwise is offered to the next `pull`.
   */
  closed(ws: WebSocket, code?: number): void {
    const a = attachmentOf(ws);
    if (!a?.compat) return;
    let runs = a.handed ?? {};
    if (code === 1000) {
      const cutoff = Date.now() - CONFIRM_AFTER_MS;
      this.confirm(a.device, cutoff);
      const { done, kept } = splitRuns(runs, cutoff);
      if (Object.keys(done).length > 0) this.memberships.ack(COMPAT_DEVICE, done);
      runs = kept;
    }
    const others = this.open().flatMap((o) => {
      const b = o === ws ? undefined : attachmentOf(o);
      return b && b.device !== a.device ? [{ ws: o, a: b }] : [];
    });
    this.queue.release(a.device, others.map((o) => ({ device: o.a.device, at: o.a.connectedAt })));
    // A socket open since before this one was pushed all it was: it holds these group runs too.
    for (const o of others) {
      if (o.a.connectedAt > a.connectedAt || Object.keys(runs).length === 0) continue;
      const merged: Handed = { ...runs, ...o.a.handed };
      for (const [gid, run] of Object.entries(runs)) if ((o.a.handed?.[gid]?.[0] ?? 0) < run[0]) merged[gid] = run;
      o.ws.serializeAttachment({ ...o.a, handed: fitted(o.a, merged) });
    }
  }

  /** A frame (or a normal close) from compat device `device`: it confirms what it was handed before `cutoff`. */
  confirm(device: string, cutoff: number): void {
    this.queue.confirm(device, cutoff);
    for (const ws of this.open()) {
      const a = attachmentOf(ws);
      if (a?.device !== device || !a.handed) continue;
      const { done, kept } = splitRuns(a.handed, cutoff);
      if (Object.keys(done).length === 0) continue;
      this.memberships.ack(COMPAT_DEVICE, done);
      ws.serializeAttachment({ ...a, handed: kept });
    }
  }

  /**
   * Where a `pull` of group `gid` by `ws` starts: past what a compat socket
   * confirmed, and past what any open one holds (the `pull` reply reaches
   * them all, and the seed's clients do not dedupe).
   */
  groupStart(gid: string): number {
    return Math.max(this.#confirmed(gid), ...this.open().map((o) => attachmentOf(o)?.handed?.[gid]?.[0] ?? 0));
  }

  /** Where a live run of `gid` continues for `ws`: past what was confirmed, or `ws` itself holds. */
  #heldBy(ws: WebSocket, gid: string): number {
    return Math.max(this.#confirmed(gid), attachmentOf(ws)?.handed?.[gid]?.[0] ?? 0);
  }

  /** The user's compat cursor of `gid` (the first time: where their v1 devices got to, else where they joined). */
  #confirmed(gid: string): number {
    const m = this.memberships;
    return m.cursors.get(COMPAT_DEVICE, gid) ?? m.cursors.furthest(gid, COMPAT_DEVICE) ?? m.get(gid)?.floor ?? 0;
  }

  /**
   * A group's events were pushed to the compat sockets open now: each is
   * handed the unbroken run past what it holds (what a seed client missed
   * before stays for its `pull`), confirmed by its device's next frame (see
   * {@link confirm}). Kept in the socket's attachment, so it outlives
   * hibernation; the runs of the latest groups that fit {@link HANDED_BYTES_MAX}
   * (an older run is offered again by `pull`).
   */
  shown(gid: string, frames: readonly { gseq: number; prev: number }[], now: number): void {
    for (const ws of this.open()) {
      const a = attachmentOf(ws);
      if (!a) continue;
      let at = this.#heldBy(ws, gid);
      const from = at;
      for (const f of frames) {
        if (f.gseq <= at) continue;
        if (f.prev > at) break;
        at = f.gseq;
      }
      if (at === from) continue;
      ws.serializeAttachment({ ...a, handed: fitted(a, { ...a.handed, [gid]: [at, now] }) });
    }
  }

  /** A new event for `uid`: kept until a compat socket confirms it (`device`: the one it was just pushed to). */
  stored(e: InboxEvent, uid: string, device: string | undefined, now: number): void {
    if (this.queue.enabled() && renderForCompat(e, uid) !== undefined) this.queue.add(e.seq, device, now);
  }

  /**
   * A friend came or went: the seed pushes the whole online list (ours holds
   * friends only). The registry may not show this change yet, so the frame
   * decides for its user; a list overtaken by a later change is not sent.
   */
  async presence(frame: PresenceFrame, onlineFriends: () => Promise<string[]>): Promise<void> {
    if (this.open().length === 0) return;
    const turn = ++this.#presenceTurn;
    const list = new Set(await onlineFriends());
    if (turn !== this.#presenceTurn) return;
    if (frame.online) list.add(frame.uid);
    else list.delete(frame.uid);
    for (const ws of this.open()) sendCompat(ws, { list: [...list].sort().map(seedUid), type: "online" });
  }
}
