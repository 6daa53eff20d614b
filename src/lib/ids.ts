const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** `n` (a non-negative integer below 32^len) as `len` characters, most significant first. */
function base32(n: number, len: number): string {
  let out = "";
  for (let i = 0; i < len; i++) {
    out = CROCKFORD[n % 32] + out;
    n = Math.floor(n / 32);
  }
  return out;
}

function random32(len: number): string {
  const rand = crypto.getRandomValues(new Uint8Array(len));
  let out = "";
  for (let i = 0; i < len; i++) out += CROCKFORD[rand[i]! % 32];
  return out;
}

/**
 * A 26-character, time-sortable id (ULID layout: 48-bit milliseconds, then
 * 80 random bits), used for message and event ids. With `tag` (8 characters
 * of the same alphabet, see {@link groupTag}), the first 40 of the random
 * bits are the tag instead.
 */
export function newEventId(now = Date.now(), tag = ""): string {
  return base32(now, 10) + tag + random32(16 - tag.length);
}

/**
 * The id of a direct message: a {@link newEventId} whose first 40 random bits
 * (a group message's tag slot) are the seq of the sender's own copy, so that
 * copy is found by its seq and needs no index entry for its id (store/inbox-row.ts).
 */
export function newDirectMessageId(now: number, seq: number): string {
  return base32(now, 10) + base32(seq, 8) + random32(8);
}

/** The seq slot of an id made by {@link newDirectMessageId} (any 26-character id decodes to some number). */
export function seqSlotOf(id: string): number {
  let n = 0;
  for (const ch of id.slice(10, 18)) n = n * 32 + Math.max(0, CROCKFORD.indexOf(ch));
  return n;
}

/**
 * A group's 40-bit tag (two FNV-1a hashes of its id), carried inside the ids
 * of its messages: a member's object finds which of its groups a message
 * belongs to from the id alone, as a frame that names a message (`edit`,
 * `recall`, `react`, …) does not name its group.
 */
export function groupTag(gid: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < gid.length; i++) {
    a = Math.imul(a ^ gid.charCodeAt(i), 0x01000193);
    b = Math.imul(b ^ gid.charCodeAt(i), 0x5bd1e995);
  }
  const bits = ((BigInt(a >>> 0) << 8n) | BigInt((b >>> 0) & 0xff)) & ((1n << 40n) - 1n);
  let out = "";
  for (let i = 7; i >= 0; i--) out += CROCKFORD[Number((bits >> BigInt(i * 5)) & 31n)];
  return out;
}

/** The group tag slot of a message id (meaningful only for group messages). */
export function tagOf(mid: string): string {
  return mid.slice(10, 18);
}

/** A random device id for connections that do not name one. */
export function newDeviceId(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 16);
}
