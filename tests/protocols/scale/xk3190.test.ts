import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Xk3190Parser, decodeXk3190Reversed, decodeXk3190Stx, xk3190Check, xk3190Command } from '../../../protocols/scale/xk3190.js';
import { ProtocolError } from '../../../protocols/errors.js';
import { expectSplitInvariant, loadCapture } from '../../helpers/replay.js';

const latin1 = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'));
const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex'));

/**
 * The manual's conversion, written out independently: XOR the bytes, then for each nibble add
 * 30h when <= 9 and 37h when > 9 [XK3190-A9+ ch.2 V].
 */
function manualCheck(bytes: number[]): string {
  let x = 0;
  for (const b of bytes) x ^= b;
  const conv = (n: number): string => String.fromCharCode(n <= 9 ? n + 0x30 : n + 0x37);
  return conv(Math.floor(x / 16)) + conv(x % 16);
}

describe('XK3190 check characters', () => {
  it('match the real truck-scale capture and the manual conversion', () => {
    // 02 2B 30 30 31 35 36 30 30 | 31 39 | 03 : 1560 kg, check "19".
    const frame = hex('022b30303135363030313903');
    expect(manualCheck(Array.from(frame.subarray(1, 9)))).toBe('19');
    expect(String.fromCharCode(...xk3190Check(frame.subarray(1, 9)))).toBe('19');
    expect(manualCheck(Array.from(hex('2b30303030303030')))).toBe('1B');
  });

  it('every frame of the order-method fixture carries the independent check', () => {
    const all = Array.from(loadCapture('scale/xk3190-order.hex'));
    let start = 0;
    let n = 0;
    for (let i = 0; i < all.length; i++) {
      if (all[i] !== 0x03) continue;
      const f = all.slice(start, i + 1);
      expect(String.fromCharCode(f[f.length - 3]!, f[f.length - 2]!)).toBe(manualCheck(f.slice(1, f.length - 3)));
      start = i + 1;
      n++;
    }
    expect(n).toBe(4);
  });

  it('property: xk3190Check equals the manual conversion', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 20 }), (b) => String.fromCharCode(...xk3190Check(b)) === manualCheck(Array.from(b))));
  });
});

describe('XK3190 host commands (order method)', () => {
  it('builds STX addr cmd XH XL ETX with XOR of addr and cmd', () => {
    // 'A' ^ 'B' = 0x41 ^ 0x42 = 0x03 -> "03".
    expect(Array.from(xk3190Command('A', 'B'))).toEqual([0x02, 0x41, 0x42, 0x30, 0x33, 0x03]);
    expect(Array.from(xk3190Command('Z', 'D'))).toEqual([0x02, 0x5a, 0x44, ...latin1(manualCheck([0x5a, 0x44])), 0x03]);
    expect(() => xk3190Command('a', 'B')).toThrow(ProtocolError);
    expect(() => xk3190Command('A', 'G' as 'A')).toThrow(ProtocolError);
  });
});

describe('XK3190 decoding', () => {
  it('decodes decimals and negative values in tF=0 frames', () => {
    const data = latin1('-0012342');
    const frame = Uint8Array.from([0x02, ...data, ...latin1(manualCheck(Array.from(data))), 0x03]);
    expect(decodeXk3190Stx(frame)).toEqual({ kind: 'weight', weight: -12.34, unit: 'kg', weightKg: -12.34 });
    expect(decodeXk3190Stx(frame, 't')).toEqual({ kind: 'weight', weight: -12.34, unit: 't', weightKg: -12340 });
    expect(decodeXk3190Stx(frame, 'jin')).toEqual({ kind: 'weight', weight: -12.34, unit: 'jin' });
  });

  it('rejects a bad XOR, a wrong length and bytes out of place', () => {
    expect(decodeXk3190Stx(hex('022b30303135363030313803'))).toBeUndefined();
    expect(decodeXk3190Stx(hex('022b303031353630303103'))).toBeUndefined();
    expect(decodeXk3190Stx(hex('022b3030313536303039313903'))).toBeUndefined();
    expect(decodeXk3190Stx(hex('0041'))).toBeUndefined();
  });

  it('passes E/F replies (truck / cargo number) on raw', () => {
    const body = [...latin1('AE'), ...latin1('AB1234')];
    const frame = Uint8Array.from([0x02, ...body, ...latin1(manualCheck(body)), 0x03]);
    expect(decodeXk3190Stx(frame)).toEqual({ kind: 'reply', command: 'E', status: '', values: ['AB1234'] });
    expect(expectSplitInvariant(() => new Xk3190Parser(), frame)).toHaveLength(1);
  });

  it('decodes the reversed stream: the manual examples and a value without a decimal point', () => {
    expect(decodeXk3190Reversed(latin1('=000.3000'))).toEqual({ kind: 'weight', weight: 3, unit: 'kg', weightKg: 3 });
    expect(decodeXk3190Reversed(latin1('=00.1000-'))).toEqual({ kind: 'weight', weight: -1, unit: 'kg', weightKg: -1 });
    // 1560 as 7 digits "0001560" reversed.
    expect(decodeXk3190Reversed(latin1('=06510000'))).toMatchObject({ weight: 1560 });
    expect(decodeXk3190Reversed(latin1('=0.0.1000'))).toBeUndefined();
    expect(decodeXk3190Reversed(latin1('=000.300x'))).toBeUndefined();
    expect(decodeXk3190Reversed(latin1('=000.30'))).toBeUndefined();
    expect(decodeXk3190Reversed(latin1('=.......0'))).toBeUndefined();
  });
});

describe('Xk3190Parser', () => {
  it('resynchronises after noise, a broken frame and a stray "=", and counts what it drops', () => {
    const p = new Xk3190Parser();
    const good = hex('022b30303135363030313903');
    const badXor = hex('022b30303135363030313803');
    const frames = p.push(Uint8Array.from([...latin1('xx='), ...badXor, ...latin1('=00'), ...good, ...latin1('=000.3000')]));
    expect(frames.map((f) => (f as { weight: number }).weight)).toEqual([1560, 3]);
    expect(p.stats.frames).toBe(2);
    expect(p.stats.droppedFrames).toBe(1);
    expect(p.stats.droppedBytes).toBeGreaterThan(0);
    p.push(latin1('=000'));
    expect(p.end()).toEqual([]);
    p.push(latin1('=000'));
    p.reset();
    expect(p.push(latin1('.3000'))).toEqual([]);
  });

  it('property: random noise between valid frames never hides a frame; random bytes never throw', () => {
    const pool = [
      hex('022b30303135363030313903'),
      hex('022b30303030303030314203'),
      latin1('=000.3000'),
      latin1('=00.1000-'),
      ...(() => {
        const all = loadCapture('scale/xk3190-order.hex');
        return [all.subarray(0, 6), all.subarray(6, 20)];
      })(),
    ];
    const decode = (f: Uint8Array) => (f[0] === 0x02 ? decodeXk3190Stx(f) : decodeXk3190Reversed(f));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.uint8Array({ maxLength: 20 }), fc.integer({ min: 0, max: pool.length - 1 })), { minLength: 1, maxLength: 6 }), (items) => {
        const bytes = Uint8Array.from(items.flatMap(([noise, i]) => [...noise, ...pool[i]!]));
        const got = expectSplitInvariant(() => new Xk3190Parser(), bytes);
        const want = items.map(([, i]) => decode(pool[i]!));
        let k = 0;
        for (const f of got) if (k < want.length && JSON.stringify(f) === JSON.stringify(want[k])) k++;
        expect(k).toBe(want.length);
      }),
      { numRuns: 150 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        const p = new Xk3190Parser();
        p.push(b);
        p.end();
      }),
    );
  });
});
