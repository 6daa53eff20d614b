import { type MediaLinkFrame, ProtocolError, type ReplyOf, type UploadFrame } from "../../protocol";
import type { Conn, UserHub } from "../hub";
import { createSlot, linkFor } from "../media";
import { assertMay } from "./shared";

/** An upload slot for a conversation this user may send to: a friend (not blocked), or a group they are in. */
export async function onUpload(hub: UserHub, _conn: Conn, f: UploadFrame): Promise<ReplyOf<"upload">> {
  if (f.chat === "group") {
    if (!hub.groups.memberships.get(f.to)) throw new ProtocolError("not_member", `you are not a member of ${f.to}`);
  } else {
    if (f.to === hub.uid) throw new ProtocolError("bad_request", "cannot send a message to yourself");
    await assertMay(hub, f.to, { what: "friends_only" });
  }
  return createSlot(hub.env, hub.uid, f);
}

/** A short-lived download link for an attachment of a conversation this user is in. */
export async function onMediaLink(hub: UserHub, _conn: Conn, f: MediaLinkFrame): Promise<ReplyOf<"media_link">> {
  return linkFor(hub.env, hub.uid, f.attachment);
}
