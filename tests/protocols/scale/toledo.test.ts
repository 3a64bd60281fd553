import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ToledoContinuousParser,
  decodeToledoBody,
  toledoChecksum,
  toledoDecimals,
  toledoIncrement,
  toledoUnit,
} from '../../../protocols/scale/toledo.js';
import { expectSplitInvariant, feed, loadCapture } from '../../helpers/replay.js';

/** The verified example of device-protocols.md §1: 12.50 kg stable, checksum 0x2D. */
const EXAMPLE = Uint8Array.from([0x02, 0x2c, 0x30, 0x20, 0x30, 0x30, 0x31, 0x32, 0x35, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x0d, 0x2d]);
const BODY = EXAMPLE.subarray(0, 17);

/**
 * Independent checksum: "two's complement of the low 7 bits of the sum" written the long way,
 * 128 minus the 7-bit sum, modulo 128.
 */
function independentChecksum(bytes: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i++) sum = (sum + bytes[i]!) % 128;
  return (128 - sum) % 128;
}

/** Split a .hex capture of checksummed frames into 18-byte frames. */
function frames18(rel: string): Uint8Array[] {
  const all = loadCapture(rel);
  const out: Uint8Array[] = [];
  for (let i = 0; i < all.length; i += 18) out.push(all.subarray(i, i + 18));
  return out;
}

const concat = (...parts: ArrayLike<number>[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => Array.from(p)));

describe('Toledo checksum and status words', () => {
  it('gives 0x2D for the verified 12.50 kg example', () => {
    expect(toledoChecksum(BODY)).toBe(0x2d);
    expect(independentChecksum(BODY)).toBe(0x2d);
  });

  it('every checksum in the variants fixture matches the independent computation', () => {
    const frames = frames18('scale/toledo-variants.hex');
    expect(frames).toHaveLength(10);
    for (const f of frames) expect(f[17]).toBe(independentChecksum(f.subarray(0, 17)));
    // The fixture deliberately holds checksums equal to CR and to STX.
    expect(frames.map((f) => f[17])).toContain(0x0d);
    expect(frames.map((f) => f[17])).toContain(0x02);
  });

  it('property: toledoChecksum agrees with the independent computation', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 40 }), (b) => toledoChecksum(b) === independentChecksum(Array.from(b, (x) => x & 0x7f))));
  });

  it('decodes SWA decimal positions and increments per Wildcat table 6-9', () => {
    // bits 0-2: 0 XXXX00, 1 XXXXX0, 2 XXXXXX, 3 XXXXX.X ... 7 X.XXXXX
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((c) => toledoDecimals(0x20 | 0x08 | c))).toEqual([-2, -1, 0, 1, 2, 3, 4, 5]);
    // bits 3-4: 01 x1, 10 x2, 11 x5
    expect([0x08, 0x10, 0x18, 0x00].map((b) => toledoIncrement(0x20 | b))).toEqual([1, 2, 5, 1]);
    expect(toledoUnit(0x30, 0x20)).toBe('kg');
    expect(toledoUnit(0x20, 0x20)).toBe('lb');
    expect(toledoUnit(0x30, 0x21)).toBe('g');
  });

  it('reads blanked leading digits as zeros and rejects bodies with bytes out of place', () => {
    const blanked = Uint8Array.from(BODY);
    blanked.set([0x20, 0x20, 0x20], 4); // "   250"
    expect(decodeToledoBody(blanked)).toMatchObject({ weight: 2.5 });
    const badDigit = Uint8Array.from(BODY);
    badDigit[6] = 0x41;
    expect(decodeToledoBody(badDigit)).toBeUndefined();
    expect(decodeToledoBody(BODY.subarray(0, 16))).toBeUndefined();
    const badStatus = Uint8Array.from(BODY);
    badStatus[2] = 0x0d;
    expect(decodeToledoBody(badStatus)).toBeUndefined();
  });
});

describe('ToledoContinuousParser', () => {
  const w1250 = { kind: 'weight', weight: 12.5, unit: 'kg', weightKg: 12.5, stable: true, net: false, tare: 0, tareKg: 0, division: 0.01 };

  it("'auto' learns 'present' and then drops a frame with a wrong checksum", () => {
    const bad = Uint8Array.from(EXAMPLE);
    bad[17] = 0x2e;
    const p = new ToledoContinuousParser();
    expect(p.push(concat(EXAMPLE, bad, EXAMPLE))).toEqual([w1250, w1250]);
    expect(p.stats).toMatchObject({ frames: 2, droppedFrames: 1, droppedBytes: 1 });
  });

  it("'auto' learns 'absent' when the byte after CR is the next STX; end() releases the last frame", () => {
    const p = new ToledoContinuousParser();
    // Nothing after CR yet: cannot tell whether a checksum follows.
    expect(p.push(BODY)).toEqual([]);
    // The next STX settles it (absent); from then on a frame is released at its CR.
    expect(p.push(BODY)).toEqual([w1250, w1250]);
    expect(p.push(BODY)).toEqual([w1250]);
    expect(p.stats).toMatchObject({ frames: 3, droppedFrames: 0, droppedBytes: 0 });
    const q = new ToledoContinuousParser();
    expect(q.push(BODY)).toEqual([]);
    expect(q.end()).toEqual([w1250]);
  });

  it("'auto' resolves a checksum equal to STX (0x02) by looking one byte further", () => {
    const [, motion] = frames18('scale/toledo-variants.hex');
    expect(motion![17]).toBe(0x02);
    // With checksums: 02 (checksum) is followed by 02 (next STX) -> present.
    const withChk = feed(() => new ToledoContinuousParser(), [concat(motion!, EXAMPLE)]);
    expect(withChk.map((f) => (f as { weight: number }).weight)).toEqual([799.99, 12.5]);
    // Without checksums: 02 after CR is the next STX, followed by SWA -> absent.
    const p = new ToledoContinuousParser();
    const noChk = [...p.push(concat(motion!.subarray(0, 17), BODY)), ...p.end()];
    expect(noChk.map((f) => (f as { weight: number }).weight)).toEqual([799.99, 12.5]);
    expect(p.stats.droppedBytes + p.stats.droppedFrames).toBe(0);
    // Ambiguous byte at the very end of the input: taken as the checksum.
    const q = new ToledoContinuousParser();
    expect(q.push(motion!)).toEqual([]);
    expect(q.end().map((f) => (f as { weight: number }).weight)).toEqual([799.99]);
  });

  it("'auto' drops a frame followed by neither its checksum nor an STX, without learning", () => {
    const p = new ToledoContinuousParser();
    expect(p.push(concat(BODY, [0x41], EXAMPLE))).toEqual([w1250]);
    expect(p.stats).toMatchObject({ droppedFrames: 1, droppedBytes: 1 });
  });

  it('checksum:true drops frames without a checksum; end() drops a frame still waiting for it', () => {
    const p = new ToledoContinuousParser({ checksum: true });
    expect(p.push(concat(BODY, EXAMPLE))).toEqual([w1250]);
    expect(p.stats.droppedFrames).toBe(1);
    expect(p.push(BODY)).toEqual([]);
    expect(p.end()).toEqual([]);
    expect(p.stats.droppedFrames).toBe(2);
  });

  it('finds the frame after CR/STX-valued checksums even when split at every byte (checksum:false ignores CHK bytes as noise)', () => {
    const all = loadCapture('scale/toledo-variants.hex');
    const frames = expectSplitInvariant(() => new ToledoContinuousParser({ checksum: false }), all);
    // The two checksums equal to STX/CR must not derail framing: all 10 frames decode.
    expect(frames).toHaveLength(10);
  });

  it('strips bit 7: a 7E1 stream read as 8N1 (parity in bit 7) still decodes', () => {
    const parity = (b: number): number => {
      let ones = 0;
      for (let x = b; x; x >>= 1) ones += x & 1;
      return ones % 2 ? b | 0x80 : b;
    };
    const withParity = Uint8Array.from(EXAMPLE, parity);
    expect(withParity[0]).toBe(0x82);
    expect(feed(() => new ToledoContinuousParser(), [withParity, withParity])).toEqual([w1250, w1250]);
  });

  it('end() drops an incomplete frame; reset() forgets the partial frame and what was learned', () => {
    const p = new ToledoContinuousParser();
    p.push(EXAMPLE.subarray(0, 10));
    expect(p.end()).toEqual([]);
    expect(p.stats.droppedBytes).toBe(10);
    p.push(EXAMPLE);
    p.push(EXAMPLE.subarray(0, 5));
    p.reset();
    // After reset, unknown again: the first body waits for the byte after its CR.
    expect(p.push(BODY)).toEqual([]);
    expect(p.push(BODY)).toEqual([w1250, w1250]);
  });

  it('property: random noise between valid frames never hides a frame, and never throws', () => {
    const variants = frames18('scale/toledo-variants.hex');
    const pool = [EXAMPLE, ...variants];
    const expectedOf = (f: Uint8Array) => decodeToledoBody(f.subarray(0, 17));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.uint8Array({ maxLength: 25 }), fc.integer({ min: 0, max: pool.length - 1 })), { minLength: 1, maxLength: 6 }),
        fc.constantFrom<'auto' | boolean>('auto', true, false),
        (items, checksum) => {
          // Noise must not end inside a would-be frame: keep STX out of it.
          const parts = items.map(([noise, i]) => concat(noise.filter((b) => (b & 0x7f) !== 0x02), pool[i]!));
          const bytes = concat(...parts);
          const p = new ToledoContinuousParser({ checksum });
          const got = [...p.push(bytes), ...p.end()];
          const want = items.map(([, i]) => expectedOf(pool[i]!));
          let k = 0;
          for (const f of got) if (k < want.length && JSON.stringify(f) === JSON.stringify(want[k])) k++;
          expect(k).toBe(want.length);
        },
      ),
      { numRuns: 200 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        const p = new ToledoContinuousParser();
        p.push(b);
        p.end();
      }),
    );
  });
});
