import { ProtocolError, type Role } from "../protocol";

/*
 * Who may do what in a group, decided from roles alone (no storage): the
 * group object looks up the actor and the target, these decide. Owner >
 * admin > member; the app's backend (actor null) acts with the owner's
 * authority but cannot act on the owner either.
 */

/** An actor's standing: a role, the backend ("system"), or not a member. */
export type ActorRole = Role | "system" | "outsider";

const RANK: Record<Role, number> = { owner: 3, admin: 2, member: 1 };

/** The standing of `actor` (null: the backend), given their membership if any. */
export function actorRole(actor: string | null, member: { role: Role } | undefined): ActorRole {
  if (actor === null) return "system";
  return member?.role ?? "outsider";
}

/** Members (and the backend) only; outsiders get `not_member`. */
export function assertMember(role: ActorRole): Role | "system" {
  if (role === "outsider") throw new ProtocolError("not_member", "you are not a member of this group");
  return role;
}

/** The actor must hold one of `roles` (the backend always does); `what` names the action in the error. */
export function assertRole(role: ActorRole, roles: readonly Role[], what: string): Role | "system" {
  const r = assertMember(role);
  if (r !== "system" && !roles.includes(r)) throw new ProtocolError("forbidden", `only ${roles.join(" or ")} may ${what}`);
  return r;
}

/** The owner manages everyone but the owner; admins manage plain members; the backend, all but the owner. */
export function assertManage(role: ActorRole, target: { uid: string; role: Role }, what: string): void {
  if (target.role === "owner") throw new ProtocolError("forbidden", `the owner cannot be ${what}; transfer ownership first`);
  if (role === "system" || role === "owner") return;
  if (role === "admin" && RANK[target.role] < RANK.admin) return;
  throw new ProtocolError("forbidden", `you may not ${what.replace(/ed$/, "")} ${target.uid}`);
}

/** In announcement mode only the owner and admins post (the backend's pushes are not posts). */
export function assertMayPost(role: Role, settings: { announce?: true }): void {
  if (settings.announce && role === "member") {
    throw new ProtocolError("forbidden", "only the owner and admins may post in this group (announcement mode)");
  }
}
