import type { Db } from "../db/client";
import { groupsOf } from "../db/users";
import { mapLimit } from "../lib/concurrency";
import { tagOf } from "../lib/ids";
import { unwrap } from "../lib/result";
import { COMPAT_DEVICE, type Membership, type Memberships } from "../store/memberships";
import {
  type GroupPage,
  ProtocolError,
  type StoredMessage,
  SYNC_PAGE_DEFAULT
} from "../protocol";
import type { GroupRpc } from "../rpc/interfaces";
import { groupStub } from "../rpc/stubs";
import type { LiveRun } from "../rpc/delivery";

/** Calls to group objects in flight at once when a user connects. */
const ATTACH_CONCURRENCY = 8;
/** A group that could not be reached on connect is tried again after these waits, while a socket is open. */
const ATTACH_RETRY_MS = [2_000, 10_000, 30_000];

/**
 * A user object's side of the groups it belongs to. Group events are stored
 * once, in the group; this keeps the user's list of groups (from D1 once per
 * object start, and from what the groups push), attaches to each when a
 * device connects (so the group pushes to this object while it has
 * sockets) and pages each group's stream for a device from its cursor.
 */
export class GroupLinks {
  #listed: Promise<void> | undefined;

  constructor(
    private readonly env: Env,
    private readonly db: Db,
    private readonly uid: () => string,
    readonly memberships: Memberships,
    /** Whether this user has a socket open (a failed attach is retried only then). */
    private readonly online: () => boolean,
    /** Whether this user uses the seed's protocol (whose group cursor starts where they first attach). */
    private readonly compat: () => boolean
  ) {}

  #group(gid: string): GroupRpc {
    return groupStub(this.env, gid);
  }

  /**
   * Adds the groups D1 lists for this user (D1 mirrors every group's
   * members): once per object start, and again with `again` (the user comes
   * online: groups that added them meanwhile could not reach them).
   */
  #list(again = false): Promise<void> {
    if (again) this.#listed = undefined;
    this.#listed ??= groupsOf(this.db, this.uid())
      .then((rows) => {
        for (const g of rows) this.memberships.learn(g.id);
      })
      .catch((err) => {
        this.#listed = undefined;
        console.warn("could not list groups from D1; using the ones known here", err);
      });
    return this.#listed;
  }

  /** This user's groups, the ones D1 lists included (read once per object start). */
  async known(): Promise<Membership[]> {
    await this.#list();
    return this.memberships.all();
  }

  /**
   * A device connected: attach to every group of this user (a member's
   * object gets the group's pushes while it has sockets), and when `catchUp`
   * is given, hand it what the device missed in each, a `group_catchup` page
   * per group that has anything, from the device's cursor. Former groups
   * are read up to where the membership ended, until the device has it all.
   * `online`: this is the user's first open socket, so the list is read from
   * D1 again.
   */
  async attachAll(device: string, online: boolean, catchUp?: (page: GroupPage) => void): Promise<void> {
    try {
      await this.#attachAll(device, online, catchUp);
    } catch (err) {
      // The device can still sync each group itself; the next connection tries again.
      console.error("attaching to groups failed", err);
    }
  }

  async #attachAll(device: string, online: boolean, catchUp?: (page: GroupPage) => void): Promise<void> {
    await this.#list(online);
    let todo = this.memberships.all();
    for (const wait of [0, ...ATTACH_RETRY_MS]) {
      if (wait > 0) {
        await new Promise((r) => setTimeout(r, wait));
        if (!this.online()) return;
      }
      const cursors = this.memberships.cursors.ofDevice(device);
      const due = todo.filter((m) => m.left === null || (cursors.get(m.gid) ?? m.floor) < m.left);
      const failed = await mapLimit(due, ATTACH_CONCURRENCY, (m) => this.#attachOne(m, Math.max(cursors.get(m.gid) ?? 0, m.floor), catchUp));
      todo = due.filter((_, i) => failed[i]);
      if (todo.length === 0) return;
    }
  }

  /** Attaches to one group, handing `catchUp` what is new after `after`; true when the group could not be reached. */
  async #attachOne(m: Membership, after: number, catchUp?: (page: GroupPage) => void): Promise<boolean> {
    const r = await this.#group(m.gid).attach(this.uid(), after, SYNC_PAGE_DEFAULT).catch((err: unknown) => {
      console.warn("attach failed; will retry", m.gid, err);
      return undefined;
    });
    if (!r) return true;
    if (!r.ok) {
      if (r.error.code === "not_member" || r.error.code === "unknown_group") this.memberships.forget(m.gid);
      return r.error.retryable;
    }
    const { member, ...page } = r.value;
    if (member) this.memberships.learn(m.gid);
    else this.memberships.left(m.gid, page.head);
    this.#startCompat(m.gid, page.head);
    if (catchUp && (page.events.length > 0 || page.gap)) catchUp(this.withHidden(page));
    return false;
  }

  /**
   * The seed's clients had no offline group messages: what arrives while a
   * seed client of this user is away waits for its `pull`, from where the
   * user first attached with one (or where their v1 devices got to).
   */
  #startCompat(gid: string, head: number): void {
    if (!this.compat()) return;
    const m = this.memberships;
    if (m.cursors.get(COMPAT_DEVICE, gid) === undefined && m.cursors.furthest(gid, COMPAT_DEVICE) === undefined) m.ack(COMPAT_DEVICE, { [gid]: head });
  }

  /** Attaches to one group (just joined or created from this object). */
  async attach(gid: string): Promise<void> {
    this.memberships.learn(gid);
    const r = await this.#group(gid).attach(this.uid(), this.memberships.get(gid)?.floor ?? 0, 1);
    if (!r.ok) return;
    if (!r.value.member) this.memberships.left(gid, r.value.head);
    this.#startCompat(gid, r.value.head);
  }

  /** `sync` with `gid`: one page of this user's stream of the group after `after`. */
  async page(gid: string, after: number, limit: number): Promise<GroupPage> {
    const m = this.memberships.get(gid);
    const { member, ...page } = unwrap(await this.#group(gid).page(this.uid(), Math.max(after, m?.floor ?? 0), limit));
    if (member) this.memberships.learn(gid);
    else if (m === undefined) {
      this.memberships.learn(gid);
      this.memberships.left(gid, page.head);
    }
    return this.withHidden(page);
  }

  /**
   * Events the group pushed: learns this user's own membership changes from
   * them (joined, created, left, kicked).
   */
  pushed(gid: string, runs: readonly LiveRun[]): void {
    let known = this.memberships.get(gid) !== undefined;
    for (const { gseq, ...g } of runs.flatMap((r) => r.groups ?? [])) {
      if ((g.action === "joined" && g.target === this.uid()) || g.action === "created") {
        this.memberships.learn(gid);
        known = true;
      } else if ((g.action === "left" || g.action === "kicked") && g.target === this.uid()) {
        this.memberships.left(gid, gseq);
        known = true;
      }
    }
    if (!known) this.memberships.learn(gid);
  }

  /**
   * The group message `mid` as this user may see it, found through the
   * group tag in its id among this user's groups; `unknown_message` if none
   * has it for them.
   */
  async message(mid: string): Promise<{ gid: string; gseq: number; message: StoredMessage; unreadAfter: number }> {
    for (const gid of this.memberships.byTag(tagOf(mid))) {
      const r = await this.#group(gid).message(this.uid(), mid);
      if (r.ok) {
        if (this.memberships.isHidden(mid)) break;
        return { gid, ...r.value };
      }
      if (r.error.code !== "unknown_message" && r.error.code !== "not_member") unwrap(r);
    }
    throw new ProtocolError("unknown_message", `no message ${mid}`);
  }

  /** A page with the messages this user deleted for themselves shown deleted (as their inbox shows a deleted copy). */
  withHidden(page: GroupPage): GroupPage {
    const hidden = this.memberships.hiddenAmong(page.events.flatMap((e) => (e.type === "message" ? [e.mid] : [])));
    if (hidden.size === 0) return page;
    return { ...page, events: page.events.map((e) => (e.type === "message" && hidden.has(e.mid) ? deletedCopy(e) : e)) };
  }
}

/** A message as its deleted-for-me copy shows it: no body, reactions or quote. */
export function deletedCopy<M extends { body: unknown; reactions?: unknown; reply?: unknown }>(m: M): M {
  const { reactions: _r, reply: _q, ...rest } = m;
  return { ...rest, body: null, deleted: true } as unknown as M;
}
