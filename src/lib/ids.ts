const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/**
 * A 26-character, time-sortable id (ULID layout: 48-bit milliseconds, then
 * 80 random bits), used for message and event ids.
 */
export function newEventId(now = Date.now()): string {
  let out = "";
  let t = now;
  for (let i = 0; i < 10; i++) {
    out = CROCKFORD[t % 32] + out;
    t = Math.floor(t / 32);
  }
  const rand = crypto.getRandomValues(new Uint8Array(16));
  for (let i = 0; i < 16; i++) out += CROCKFORD[rand[i]! % 32];
  return out;
}

/** A random device id for connections that do not name one. */
export function newDeviceId(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 16);
}
