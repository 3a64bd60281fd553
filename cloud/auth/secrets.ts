import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Secrets at rest. Two kinds, two hashes:
 *
 * - MQTT passwords: scrypt with a per-credential 16-byte salt, stored as
 *   `scrypt$N$r$p$<salt b64>$<hash b64>` so the cost can be raised later without breaking old
 *   rows. Checked once per MQTT connect, off the event loop (libuv thread pool).
 * - API tokens: `sgt_<id>_<secret>` with a 256-bit random secret. Only SHA-256(secret) is stored.
 *   A slow KDF buys nothing for a 256-bit random secret (there is no dictionary to slow down) and
 *   would cost ~50 ms of CPU on every HTTP request; the lookup is by `id`, the comparison
 *   timing-safe.
 */

/** scrypt cost: N=2^14, r=8, p=1 (about 16 MiB and tens of ms per hash). */
export const SCRYPT = { N: 16384, r: 8, p: 1, keyLen: 32, saltLen: 16 } as const;

function scrypt(password: string, salt: Buffer, keyLen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(password, salt, keyLen, { ...opts, maxmem: 64 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key))));
}

/** Hash a password for storage (fresh random salt each call). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SCRYPT.saltLen);
  const key = await scrypt(password, salt, SCRYPT.keyLen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p });
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Check a password against a stored hash; timing-safe, false for any malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const salt = Buffer.from(parts[4]!, 'base64');
  const expected = Buffer.from(parts[5]!, 'base64');
  if (![N, r, p].every((x) => Number.isInteger(x) && x > 0) || salt.length === 0 || expected.length === 0) return false;
  const key = await scrypt(password, salt, expected.length, { N, r, p });
  return timingSafeEqual(key, expected);
}

/**
 * Burn the same scrypt work as a real check, for an unknown username: a wrong username and a
 * wrong password then take the same time, so usernames cannot be probed.
 */
let dummy: Promise<string> | undefined;
export async function verifyNothing(password: string): Promise<false> {
  dummy ??= hashPassword(randomSecret());
  await verifyPassword(password, await dummy);
  return false;
}

/** 32 random bytes, base64url (43 characters): generated MQTT passwords and token secrets. */
export function randomSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** Short random id (16 hex characters) for tokens. */
export function randomId(): string {
  return randomBytes(8).toString('hex');
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

const TOKEN_RE = /^sgt_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export function formatToken(id: string, secret: string): string {
  return `sgt_${id}_${secret}`;
}

/** Split a presented token into id and secret; undefined when it is not one of ours. */
export function parseToken(token: string): { id: string; secret: string } | undefined {
  const m = TOKEN_RE.exec(token);
  return m ? { id: m[1]!, secret: m[2]! } : undefined;
}

/** Timing-safe comparison of two hex digests of equal length. */
export function digestEquals(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}
