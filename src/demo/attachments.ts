/**
 * The demo's images: a picked file is uploaded to the conversation's slot
 * and sent as a message naming it; a message naming one shows it, through a
 * short-lived link (asked once per attachment and kept until it expires).
 */
import type { EdgeImClient } from "../client";
import { attachmentOf } from "../protocol";

const links = new Map<string, { href: string; expiresAt: number } | "loading" | "gone">();

/** The attachment a message body names, if any. */
export { attachmentOf };

/** Uploads `file` for (`chat`, `to`) and sends it; resolves with the send's ack and the attachment id. */
export async function sendImage(client: EdgeImClient, to: string, chat: "dm" | "group", file: File, cmid: string) {
  const slot = await client.upload(to, file, { kind: "image", contentType: file.type || "application/octet-stream", name: file.name, chat });
  const ack = await client.send(to, { attachment: slot.attachment, name: file.name }, { chat, kind: "image", cmid });
  return { ...ack, attachment: slot.attachment };
}

/** An <img> for `attachment`: its link if known, else asked for, then `onReady` re-renders. */
export function imageOf(client: EdgeImClient, attachment: string, onReady: () => void): HTMLElement {
  const img = document.createElement("img");
  img.className = "attachment";
  img.alt = "image";
  img.dataset.testid = "image";
  const known = links.get(attachment);
  if (known === "gone") {
    img.alt = "image unavailable";
    return img;
  }
  if (known && known !== "loading" && known.expiresAt > Date.now() + 5_000) {
    img.src = known.href;
    return img;
  }
  if (known !== "loading") {
    links.set(attachment, "loading");
    client
      .mediaUrl(attachment)
      .then((l) => links.set(attachment, { href: l.href, expiresAt: l.expiresAt }))
      .catch(() => links.set(attachment, "gone"))
      .finally(onReady);
  }
  return img;
}
