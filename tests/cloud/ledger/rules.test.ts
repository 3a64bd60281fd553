import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { instantMs } from '../../../cloud/ledger/rules.js';

describe('instantMs: Date.parse with the usual instant form read by hand', () => {
  // Texts of the form YYYY-MM-DDTHH:mm:ss.sssZ with every field over its whole digit range
  // (month 00..99, day 00..99, hour 24, second 60, years below 100), some with a wrong separator
  // or a non-digit, beside real instants of any year and other forms the wire accepts.
  const d = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: n, maxLength: n });
  const sep = (c: string) => fc.oneof({ arbitrary: fc.constant(c), weight: 12 }, { arbitrary: fc.constantFrom('-', ':', 'T', '.', 'Z', ' ', 'x', '5'), weight: 1 });
  const shaped = fc
    .tuple(d(4), sep('-'), d(2), sep('-'), d(2), sep('T'), d(2), sep(':'), d(2), sep(':'), d(2), sep('.'), d(3), fc.constantFrom('Z', 'Z', 'Z', 'z', '+'))
    .map((parts) => parts.join(''));
  const narrowed = fc
    .tuple(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 0, max: 13 }), fc.integer({ min: 0, max: 32 }), fc.integer({ min: 0, max: 24 }), fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 999 }))
    .chain(([y, mo, da, h, mi, s, ms]) => {
      const p = (n: number, w: number) => String(n).padStart(w, '0');
      return fc
        .tuple(sep('-'), sep('-'), sep('T'), sep(':'), sep(':'), sep('.'), sep('Z'))
        .map(([a, b, c, e, f, g, z]) => `${p(y, 4)}${a}${p(mo, 2)}${b}${p(da, 2)}${c}${p(h, 2)}${e}${p(mi, 2)}${f}${p(s, 2)}${g}${p(ms, 3)}${z}`);
    });
  // One character replaced ('/' and ':' border the digits), in texts that are otherwise instants.
  const corrupted = fc
    .tuple(narrowed, fc.nat({ max: 23 }), fc.constantFrom('/', ':', 'a', ' ', '0', '9', '+', 'Z', '\u0660'))
    .map(([t, i, c]) => t.slice(0, i) + c + t.slice(i + 1));
  const real = fc.date({ min: new Date(Date.UTC(-300, 0, 1)), max: new Date(Date.UTC(12000, 0, 1)), noInvalidDate: true }).map((x) => x.toISOString());
  const other = fc.constantFrom('2026-12-06T06:00:00Z', '2026-12-06T06:00:00.5Z', '2026-12-06T06:00:00.000+08:00', '2026-12-06T24:00:00.000Z', '');

  it('equals Date.parse on every text (NaN included)', () => {
    let valid = 0;
    fc.assert(
      fc.property(fc.oneof(shaped, narrowed, corrupted, real, other), (ts) => {
        const want = Date.parse(ts);
        if (!Number.isNaN(want)) valid++;
        expect(instantMs(ts)).toBe(want);
      }),
      { numRuns: 5000 },
    );
    // Control: most texts were real instants, so a wrong field (a month off by one) would be seen.
    expect(valid).toBeGreaterThan(1500);
    expect(instantMs('2026-12-06T06:00:00.123Z')).toBe(Date.UTC(2026, 11, 6, 6, 0, 0, 123));
  });
});
