import type { CompatQueue } from "../../store/compat-queue";
import { COMPAT_DEVICE, type Memberships } from "../../store/memberships";
import { type InboxEvent, type PresenceFrame, seedUid } from "../../protocol";
import { attachmentOf, COMPAT_TAG } from "../connection";
import { CONFIRM_AFTER_MS, sendCompat } from "./handlers";

/** Groups whose unconfirmed live runs one compat socket keeps (each about 40 bytes of its 2 KB attachment). */
const HANDED_GROUPS_MAX = 24;
import { renderForCompat } from "./render";

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
   * to another compat socket that was open when it was handed (every compat
   * socket gets every push and `pull` reply, so that one has it too), and
   * otherwise is offered to the next `pull`.
   */
  closed(ws: WebSocket, code?: number): void {
    const a = attachmentOf(ws);
    if (!a?.compat) return;
    if (code === 1000) this.confirm(a.device, Date.now() - CONFIRM_AFTER_MS);
    const others = this.open().flatMap((o) => {
      const b = o === ws ? undefined : attachmentOf(o);
      return b && b.device !== a.device ? [{ device: b.device, at: b.connectedAt }] : [];
    });
    this.queue.release(a.device, others);
  }

  /** A frame (or a normal close) from compat device `device`: it confirms what it was handed before `cutoff`. */
  confirm(device: string, cutoff: number): void {
    this.queue.confirm(device, cutoff);
    for (const ws of this.open()) {
      const a = attachmentOf(ws);
      if (a?.device !== device || !a.handed) continue;
      const done: Record<string, number> = {};
      const kept: Record<string, [number, number]> = {};
      for (const [gid, [gseq, at]] of Object.entries(a.handed)) {
        if (at < cutoff) done[gid] = gseq;
        else kept[gid] = [gseq, at];
      }
      if (Object.keys(done).length === 0) continue;
      this.memberships.ack(COMPAT_DEVICE, done);
      ws.serializeAttachment({ ...a, handed: kept });
    }
  }

  /** Where a `pull` of group `gid` starts for `ws`: past what a compat socket confirmed, or `ws` holds. */
  groupStart(ws: WebSocket, gid: string): number {
    const m = this.memberships;
    const confirmed = m.cursors.get(COMPAT_DEVICE, gid) ?? m.cursors.furthest(gid, COMPAT_DEVICE) ?? m.get(gid)?.floor ?? 0;
    return Math.max(confirmed, attachmentOf(ws)?.handed?.[gid]?.[0] ?? 0);
  }

  /**
   * A group's events were pushed to the compat sockets open now: each is
   * handed the unbroken run past {@link groupStart} (what a seed client
   * missed before stays for its `pull`), confirmed by its device's next
   * frame (see {@link confirm}). Kept in the socket's attachment, so it
   * outlives hibernation; a socket holds runs of its {@link HANDED_GROUPS_MAX}
   * latest groups (an older run is offered again by `pull`).
   */
  shown(gid: string, frames: readonly { gseq: number; prev: number }[], now: number): void {
    for (const ws of this.open()) {
      const a = attachmentOf(ws);
      if (!a) continue;
      let at = this.groupStart(ws, gid);
      const from = at;
      for (const f of frames) {
        if (f.gseq <= at) continue;
        if (f.prev > at) break;
        at = f.gseq;
      }
      if (at === from) continue;
      const { [gid]: _old, ...rest } = a.handed ?? {};
      const kept = Object.entries(rest).sort((x, y) => y[1][1] - x[1][1]).slice(0, HANDED_GROUPS_MAX - 1);
      ws.serializeAttachment({ ...a, handed: { ...Object.fromEntries(kept), [gid]: [at, now] } });
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
