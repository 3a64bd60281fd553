import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createHmac } from 'node:crypto';
import {
  Ack,
  Reject,
  canonicalAck,
  clipRanges,
  deriveAckKey,
  signAck,
  signReject,
  verifyAck,
  verifyReject,
  type AckContent,
  type RejectContent,
} from '../../../protocols/mqtt/index.js';

const key = deriveAckKey('edge-password-1');
const ack: AckContent = { edge: 'e1', ranges: [[1, 5], [8, 9]], duplicates: 1, missing: [[6, 7]], at: '2026-12-06T03:00:00.000Z' };
const rej: RejectContent = { edge: 'e1', reason: 'INVALID_SCHEMA', message: 'qty: expected a number', ranges: [[3, 3]], ids: ['A1'], deadLetterId: 7, at: '2026-12-06T03:00:00.000Z' };

describe('ack signatures (issue 8, finding 6)', () => {
  it('derives the key as HMAC-SHA256(password, "stockgate/ack")', () => {
    expect(key.equals(createHmac('sha256', 'edge-password-1').update('stockgate/ack').digest())).toBe(true);
    expect(deriveAckKey('other').equals(key)).toBe(false);
  });

  it('signs the canonical text documented in ack-signature.ts', () => {
    expect(canonicalAck('s1', ack)).toBe('stockgate/ack/v1\ns1\ne1\n1-5,8-9\n1\n6-7\n2026-12-06T03:00:00.000Z');
    expect(signAck(key, 's1', ack)).toBe(createHmac('sha256', key).update(canonicalAck('s1', ack)).digest('hex'));
  });

  it('a signed ack and reject verify, and still parse as wire format (sig optional)', () => {
    const sig = signAck(key, 's1', ack);
    expect(verifyAck(key, 's1', ack, sig)).toBe(true);
    expect(Ack.parse({ v: 1, ...ack, sig }).sig).toBe(sig);
    expect(Ack.safeParse({ v: 1, ...ack }).success).toBe(true); // an unsigned ack stays valid wire format
    expect(Ack.safeParse({ v: 1, ...ack, sig: 'XYZ' }).success).toBe(false);
    const rsig = signReject(key, 's1', rej);
    expect(verifyReject(key, 's1', rej, rsig)).toBe(true);
    expect(Reject.parse({ v: 1, ...rej, sig: rsig }).sig).toBe(rsig);
  });

  it('any change of content, site, key or signature fails verification', () => {
    const sig = signAck(key, 's1', ack);
    const variants: AckContent[] = [
      { ...ack, edge: 'e2' },
      { ...ack, ranges: [[1, 1_000_000]] },
      { ...ack, ranges: [[1, 5]] },
      { ...ack, duplicates: 0 },
      { ...ack, missing: undefined },
      { ...ack, at: '2026-12-06T03:00:00.001Z' },
    ];
    for (const v of variants) expect(verifyAck(key, 's1', v, sig)).toBe(false);
    expect(verifyAck(key, 's2', ack, sig)).toBe(false);
    expect(verifyAck(deriveAckKey('wrong'), 's1', ack, sig)).toBe(false);
    expect(verifyAck(key, 's1', ack, undefined)).toBe(false);
    expect(verifyAck(key, 's1', ack, sig.slice(0, 63))).toBe(false);
    expect(verifyAck(key, 's1', ack, `${sig.slice(0, 63)}${sig[63] === '0' ? '1' : '0'}`)).toBe(false);
    const rsig = signReject(key, 's1', rej);
    for (const v of [{ ...rej, message: 'other' }, { ...rej, ranges: [[1, 100]] as Array<[number, number]> }, { ...rej, ids: ['A1', 'A2'] }, { ...rej, deadLetterId: 8 }, { ...rej, reason: 'TOO_LARGE' }]) {
      expect(verifyReject(key, 's1', v, rsig)).toBe(false);
    }
  });

  it('property: distinct ack contents never share a signature', () => {
    const range = fc.tuple(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 0, max: 50 })).map(([a, d]) => [a, a + d] as [number, number]);
    const content = fc.record({
      edge: fc.constantFrom('e1', 'e2', 'e-1'),
      ranges: fc.array(range, { maxLength: 3 }),
      duplicates: fc.nat(5),
      missing: fc.option(fc.array(range, { maxLength: 2 }), { nil: undefined }),
      at: fc.constantFrom('2026-12-06T03:00:00.000Z', '2026-12-06T03:00:01.000Z'),
    });
    fc.assert(
      fc.property(content, content, (a, b) => {
        const same = canonicalAck('s1', a) === canonicalAck('s1', b);
        expect(signAck(key, 's1', a) === signAck(key, 's1', b)).toBe(same);
        if (same) expect(JSON.stringify({ ...a, missing: a.missing?.length ? a.missing : undefined })).toBe(JSON.stringify({ ...b, missing: b.missing?.length ? b.missing : undefined }));
      }),
    );
  });

  it('clipRanges keeps only seqs at or below the highest sent, and counts the rest', () => {
    expect(clipRanges([[1, 1_000_000]], 5)).toEqual({ kept: [[1, 5]], cut: 999_995 });
    expect(clipRanges([[1, 3], [7, 9]], 8)).toEqual({ kept: [[1, 3], [7, 8]], cut: 1 });
    expect(clipRanges([[6, 9]], 5)).toEqual({ kept: [], cut: 4 });
    expect(clipRanges([[1, 2]], 0)).toEqual({ kept: [], cut: 2 });
  });
});
