const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/**
 * A 26-character, time-sortable id (ULID layout: 48-bit milliseconds, then
 * 80 random bits), used for message and event ids. With `tag` (8 characters
 * of the same alphabet, see {@link groupTag}), the first 40 of the random
 * bits are the tag instead.
 */
export function newEventId(now = Date.now(), tag = ""): string {
  let out = "";
  let t = now;
  for (let i = 0; i < 10; i++) {
    out = CROCKFORD[t % 32] + out;
    t = Math.floor(t / 32);
  }
  out += tag;
  const rand = crypto.getRandomValues(new Uint8Array(16 - tag.length));
  for (let i = 0; i < rand.length; i++) out += CROCKFORD[rand[i]! % 32];
  return out;
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
