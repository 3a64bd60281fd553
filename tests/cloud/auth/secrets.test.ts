import { describe, expect, it } from 'vitest';
import { digestEquals, formatToken, hashPassword, parseToken, randomId, randomSecret, sha256, verifyNothing, verifyPassword } from '../../../cloud/auth/secrets.js';

describe('password hashing (scrypt, per-credential salt)', () => {
  it('verifies the right password and nothing else', async () => {
    const h = await hashPassword('correct horse');
    expect(h).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(h).not.toContain('correct horse');
    expect(await verifyPassword('correct horse', h)).toBe(true);
    expect(await verifyPassword('correct hors', h)).toBe(false);
    expect(await verifyPassword('', h)).toBe(false);
  });

  it('salts every hash: the same password hashes differently', async () => {
    const [a, b] = await Promise.all([hashPassword('pw'), hashPassword('pw')]);
    expect(a).not.toBe(b);
    expect(a.split('$')[4]).not.toBe(b.split('$')[4]);
    expect(await verifyPassword('pw', a)).toBe(true);
    expect(await verifyPassword('pw', b)).toBe(true);
  });

  it('rejects malformed or tampered hashes', async () => {
    const h = await hashPassword('pw');
    const parts = h.split('$');
    const flipped = Buffer.from(parts[5]!, 'base64');
    flipped[0]! ^= 1;
    expect(await verifyPassword('pw', [...parts.slice(0, 5), flipped.toString('base64')].join('$'))).toBe(false);
    expect(await verifyPassword('pw', [...parts.slice(0, 4), Buffer.from('other salt').toString('base64'), parts[5]].join('$'))).toBe(false);
    for (const bad of ['', 'pw', 'bcrypt$1$2$3$4$5', 'scrypt$x$8$1$AA==$AA==', 'scrypt$16384$8$1$$', h.slice(0, -10) + '$x']) {
      expect(await verifyPassword('pw', bad), bad).toBe(false);
    }
    expect(await verifyNothing('pw')).toBe(false);
  });
});

describe('API tokens', () => {
  it('round-trips sgt_<id>_<secret> and refuses anything else', () => {
    const id = randomId();
    const secret = randomSecret();
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(secret).toHaveLength(43);
    expect(parseToken(formatToken(id, secret))).toEqual({ id, secret });
    for (const bad of ['', 'sgt_', `sgt_${id}`, `sgt_${id}_${secret}x`, `sgx_${id}_${secret}`, `Bearer sgt_${id}_${secret}`, `sgt_${id.toUpperCase()}_${secret}`]) {
      expect(parseToken(bad), bad).toBeUndefined();
    }
  });

  it('compares digests in constant time and only equal ones', () => {
    expect(digestEquals(sha256('a'), sha256('a'))).toBe(true);
    expect(digestEquals(sha256('a'), sha256('b'))).toBe(false);
    expect(digestEquals(sha256('a'), sha256('a').slice(0, 32))).toBe(false);
    expect(digestEquals('', '')).toBe(false);
  });
});
