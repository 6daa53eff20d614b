import { z } from "zod";
import { isGroupMember } from "../../db/attachments";
import { createDb } from "../../db/client";
import { verifyMediaLink } from "../../lib/media-links";
import { tokenKeys } from "../../lib/tokens";
import {
  attachmentIdSchema,
  mediaLinkSchema,
  ProtocolError,
  uidPathSchema,
  uploadBodySchema,
  uploadSlotSchema
} from "../../protocol";
import { createSlot, deleteAttachments, linkFor, serveDownload, storeUpload } from "../../realtime/media";
import { newApp } from "../app-env";
import { requireUsers } from "../lookups";
import { op } from "../openapi";
import { valid } from "../validate";

const tag = "media";
const idPath = z.object({ id: attachmentIdSchema });
const signedQuery = z.object({ exp: z.coerce.number().int(), sig: z.string().min(1).max(128) });

op({
  method: "put", path: "/api/v1/media/{id}", tag, public: true,
  summary: "Upload an attachment's bytes to its slot's signed URL (exactly the slot's size and Content-Type; streamed into R2)",
  params: idPath, query: signedQuery,
  ok: { status: 201, description: "stored", schema: z.object({ attachment: attachmentIdSchema, size: z.number().int() }) },
  errors: ["forbidden", "unknown_attachment", "attachment_too_large", "conflict"]
});
op({
  method: "get", path: "/api/v1/media/{id}", tag, public: true,
  summary: "Download an attachment through a signed link (`media_link`); Range requests work",
  params: idPath, query: signedQuery,
  ok: { status: 200, description: "the bytes", also: { status: 206, description: "the requested range" } },
  errors: ["forbidden", "unknown_attachment"]
});
const deleteOp = op({
  method: "delete", path: "/api/v1/media/{id}", tag, summary: "Delete an attachment (its object and its links) now",
  params: idPath, ok: { status: 204, description: "deleted" }, errors: ["unknown_attachment"]
});
const slotOp = op({
  method: "post", path: "/api/v1/users/{uid}/uploads", tag,
  summary: "An upload slot for the user, for a conversation with a user or a group they are in (the `upload` frame's)",
  params: uidPathSchema, body: uploadBodySchema,
  ok: { status: 201, description: "the slot", schema: uploadSlotSchema },
  errors: ["unknown_user", "not_member", "attachment_too_large", "rate_limited"]
});
const linkPath = z.object({ uid: uidPathSchema.shape.uid, id: attachmentIdSchema });
const linkOp = op({
  method: "get", path: "/api/v1/users/{uid}/media/{id}", tag,
  summary: "A download link for the user: the uploader's, or a participant's once a message names it",
  params: linkPath, ok: { status: 200, description: "the link", schema: mediaLinkSchema }, errors: ["unknown_attachment"]
});

/** Signed, so without an API key: a link is the credential (checked before anything is read). */
async function checkSigned(env: Env, method: "GET" | "PUT", id: string, q: z.infer<typeof signedQuery>): Promise<void> {
  if (!(await verifyMediaLink(tokenKeys(env).hmac, method, id, q.exp, q.sig))) {
    throw new ProtocolError("forbidden", "the link is invalid or has expired: ask for a new one");
  }
}

/** `/api/v1/media/{id}` with a signed link: before the API key check (see src/index.ts). */
export const mediaFiles = newApp()
  .put("/:id", valid("param", idPath), valid("query", signedQuery), async (c) => {
    const { id } = c.req.valid("param");
    await checkSigned(c.env, "PUT", id, c.req.valid("query"));
    const row = await storeUpload(c.env, id, c.req.raw);
    return c.json({ attachment: id, size: row.size }, 201);
  })
  .get("/:id", valid("param", idPath), valid("query", signedQuery), async (c) => {
    const { id } = c.req.valid("param");
    const q = c.req.valid("query");
    await checkSigned(c.env, "GET", id, q);
    return serveDownload(c.env, id, c.req.raw, q.exp * 1000);
  });

/** Behind the API key. */
export const mediaAdmin = newApp().delete("/:id", valid("param", deleteOp.params), async (c) => {
  if ((await deleteAttachments(c.env, [c.req.valid("param").id])) === 0) {
    throw new ProtocolError("unknown_attachment", `no attachment ${c.req.valid("param").id}`);
  }
  return c.body(null, 204);
});

export const userMedia = newApp()
  .post("/:uid/uploads", valid("param", slotOp.params), valid("json", slotOp.body), async (c) => {
    const { uid } = c.req.valid("param");
    const b = c.req.valid("json");
    if (b.chat === "group") {
      await requireUsers(c.env, [uid]);
      if (!(await isGroupMember(createDb(c.env.DB), b.to, uid))) throw new ProtocolError("not_member", `${uid} is not a member of ${b.to}`);
    } else {
      await requireUsers(c.env, [uid, b.to]);
    }
    return c.json(await createSlot(c.env, uid, b), 201);
  })
  .get("/:uid/media/:id", valid("param", linkOp.params), async (c) => {
    const { uid, id } = c.req.valid("param");
    return c.json(await linkFor(c.env, uid, id));
  });
