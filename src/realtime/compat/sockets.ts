import type { CompatQueue } from "../../objects/compat-queue";
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

  constructor(
    private readonly ctx: DurableObjectState,
    readonly queue: CompatQueue
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
    if (code === 1000) this.queue.confirm(a.device, Date.now() - CONFIRM_AFTER_MS);
    this.queue.release(a.device);
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
