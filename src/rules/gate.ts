import { isSeedFrame, ProtocolError } from "../protocol";

/**
 * The friendship gate: who may be sent what. One rule for every path that
 * reaches another user directly (a send, its retries from the outbound
 * queue, a change to a direct message, typing, a group's first members, a
 * group invite). Pure: callers fetch the peers (and, when the gate asks,
 * whether the user exists) and throw what it refuses with.
 */

/**
 * Whom this user may reach as a friend, and the users a block stands
 * between (either way). `friends` are the users who list this one (the
 * seed's `sendMsg` asks `uid = toUid AND frienduid = fromUid`: the
 * recipient lists the sender); it excludes blocked ones.
 */
export interface PeerSets {
  friends: ReadonlySet<string>;
  blocked: ReadonlySet<string>;
}

/**
 * What is to reach the other user:
 * - `friends_only`: anything but a message or an invite (an edit, a
 *   reaction, typing, being made a member of a new group);
 * - `message`: a direct message; a non-friend may be sent one of the
 *   `strangerKinds` in the seed's frame shape (its `friend_request`);
 * - `invite`: a group invitation, which the invitee accepts or not, so only
 *   a block refuses it.
 */
export type Crossing =
  | { what: "friends_only" }
  | { what: "message"; kind: string; body: unknown; strangerKinds: ReadonlySet<string> }
  | { what: "invite" };

/** The gate's decision: pass, or refuse with `error` (to throw). */
export type GateDecision = { ok: true } | { ok: false; error: ProtocolError };

/**
 * The gate's answer when `exists` was not given. `lookup`: `to` is neither
 * a friend nor blocked, and the answer depends on whether such a user
 * exists: ask again with `exists`.
 */
export type GateVerdict = GateDecision | { ok: false; lookup: true };

/**
 * Whether `to` may be sent `crossing`, never across a block (`blocked`).
 * A friend passes; an invite passes anyone not blocked. Anyone else is
 * `unknown_user` when no such user exists, and otherwise passes only for a
 * stranger kind of message (else `stranger`). `exists` is asked for only
 * then, so a friend costs no lookup.
 */
export function gate(peers: PeerSets, to: string, crossing: Crossing, exists: boolean): GateDecision;
export function gate(peers: PeerSets, to: string, crossing: Crossing, exists?: boolean): GateVerdict;
export function gate(peers: PeerSets, to: string, crossing: Crossing, exists?: boolean): GateVerdict {
  if (peers.friends.has(to)) return { ok: true };
  if (peers.blocked.has(to)) return { ok: false, error: refusalWith(to, true) };
  if (crossing.what === "invite") return { ok: true };
  if (exists === undefined) return { ok: false, lookup: true };
  if (!exists) return { ok: false, error: new ProtocolError("unknown_user", `no user ${to}`) };
  if (crossing.what === "message" && strangerMayPass(crossing.strangerKinds, crossing.kind, crossing.body)) return { ok: true };
  return { ok: false, error: refusalWith(to, false) };
}

/** The seed's exemption: a seed-shaped frame of one of the `STRANGER_KINDS`. */
export function strangerMayPass(kinds: ReadonlySet<string>, kind: string, body: unknown): boolean {
  return kinds.has(kind) && isSeedFrame(body, kind);
}

/** The refusal of an exchange with `uid`: `blocked` when either side blocked the other, else `stranger`. */
export function refusalWith(uid: string, blocked: boolean): ProtocolError {
  return blocked
    ? new ProtocolError("blocked", `messages between you and ${uid} are blocked`)
    : new ProtocolError("stranger", `${uid} is not your friend`);
}

/**
 * A user's peers. `friends` (the gate's input) are the users who list
 * `uid` (`friend_id = uid`): `uid` may reach X when X lists `uid`, the
 * seed's `uid = toUid AND frienduid = fromUid`. `listed` are the users
 * `uid` lists (`user_id = uid`): whose presence `uid` sees. Both exclude
 * anyone blocked in either direction. Our API writes friendships both ways,
 * so the two differ only for one-sided rows an import kept as they were.
 */
export interface Peers extends PeerSets {
  listed: ReadonlySet<string>;
}

/** A directed friendship row: `userId` lists `friendId` (the seed's `oh_ai_friend (uid, frienduid)`). */
export interface FriendEdge {
  userId: string;
  friendId: string;
}

/** `uid`'s {@link Peers} from its friendship rows (either direction) and the blocks it is part of. Pure. */
export function peersFrom(uid: string, edges: readonly FriendEdge[], blockRows: readonly { blocker: string; blocked: string }[]): Peers {
  const blocked = new Set(blockRows.map((r) => (r.blocker === uid ? r.blocked : r.blocker)));
  const friends = new Set<string>();
  const listed = new Set<string>();
  for (const e of edges) {
    if (e.friendId === uid && e.userId !== uid && !blocked.has(e.userId)) friends.add(e.userId);
    if (e.userId === uid && e.friendId !== uid && !blocked.has(e.friendId)) listed.add(e.friendId);
  }
  return { friends, listed, blocked };
}
