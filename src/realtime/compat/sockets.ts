import type { CompatQueue } from "../../store/compat-queue";
import { COMPAT_DEVICE, type Memberships } from "../../store/memberships";
import { type InboxEvent, type PresenceFrame, seedUid } from "../../protocol";
import { attachmentOf, COMPAT_TAG } from "../connection";
import { CONFIRM_AFTER_MS, sendCompat } from "./handlers";
import { renderForCompat } from "./render";

/**
 * One user object's side of the seed's protocol: its compat sockets, the
 * pull queue's bookkeeping as sockets come and go, and the seed's `online`
 * list pushed when a friend's presence changes. Users who never opened a
 * compat socket pay one cached flag check.
 */
export class CompatSockets {
  #presenceTurn = 0;
  /**
   * Per compat device, the group events pushed to it and not yet confirmed:
   * gid → how far its unbroken run reached, and when. Memory only: what a
   * restart forgets is offered again by `pull` (at worst twice).
   */
  readonly #handed = new Map<string, Map<string, { gseq: number; at: number }>>();

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
   * (it confirms what came well before it); what it did not confirm is
   * offered to the next `pull`.
   */
  closed(ws: WebSocket, code?: number): void {
    const a = attachmentOf(ws);
    if (!a?.compat) return;
    if (code === 1000) this.confirm(a.device, Date.now() - CONFIRM_AFTER_MS);
    this.queue.release(a.device);
    this.#handed.delete(a.device);
  }

  /** A frame (or a normal close) from compat device `device`: it confirms what it was handed before `cutoff`. */
  confirm(device: string, cutoff: number): void {
    this.queue.confirm(device, cutoff);
    const handed = this.#handed.get(device);
    if (!handed) return;
    const done: Record<string, number> = {};
    for (const [gid, h] of handed) {
      if (h.at >= cutoff) continue;
      done[gid] = h.gseq;
      handed.delete(gid);
    }
    if (Object.keys(done).length > 0) this.memberships.ack(COMPAT_DEVICE, done);
  }

  /**
   * A group's events were pushed to the compat sockets open now: each
   * device is handed the unbroken run from the user's compat cursor (what a
   * seed client missed before stays for its `pull`), confirmed by its next
   * frame (see {@link confirm}).
   */
  shown(gid: string, frames: readonly { gseq: number; prev: number }[], now: number): void {
    const m = this.memberships;
    for (const ws of this.open()) {
      const device = attachmentOf(ws)?.device;
      if (device === undefined) continue;
      const handed = this.#handed.get(device) ?? new Map<string, { gseq: number; at: number }>();
      let at = handed.get(gid)?.gseq ?? m.cursors.get(COMPAT_DEVICE, gid) ?? m.cursors.furthest(gid, COMPAT_DEVICE) ?? m.get(gid)?.floor ?? 0;
      const from = at;
      for (const f of frames) {
        if (f.gseq <= at) continue;
        if (f.prev > at) break;
        at = f.gseq;
      }
      if (at === from) continue;
      handed.set(gid, { gseq: at, at: now });
      this.#handed.set(device, handed);
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
