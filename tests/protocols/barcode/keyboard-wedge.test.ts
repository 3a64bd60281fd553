import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyboardWedgeDecoder } from '../../../protocols/barcode/keyboard-wedge.js';
import { expectSplitInvariant, feed, loadCapture, loadExpected } from '../../helpers/replay.js';

const make = () => new KeyboardWedgeDecoder();
const GS = '\u001d';

/** Boot report: modifier, reserved 0, up to 6 usage IDs [USB HID 1.11 B.1]. */
const rep = (mod: number, ...keys: number[]) => Uint8Array.from([mod, 0, ...keys, ...Array(6 - keys.length).fill(0)]);
const REL = rep(0);

/** US layout, written out independently of the decoder: char -> [usage ID, shift]. */
const US = new Map<string, [number, boolean]>();
for (let i = 0; i < 26; i++) {
  US.set(String.fromCharCode(97 + i), [0x04 + i, false]);
  US.set(String.fromCharCode(65 + i), [0x04 + i, true]);
}
[...'1234567890'].forEach((c, i) => US.set(c, [0x1e + i, false]));
[...'!@#$%^&*()'].forEach((c, i) => US.set(c, [0x1e + i, true]));
for (const [k, a, b] of [
  [0x2c, ' ', ' '], [0x2d, '-', '_'], [0x2e, '=', '+'], [0x2f, '[', '{'], [0x30, ']', '}'], [0x31, '\\', '|'],
  [0x33, ';', ':'], [0x34, "'", '"'], [0x35, '`', '~'], [0x36, ',', '<'], [0x37, '.', '>'], [0x38, '/', '?'],
] as const) {
  US.set(a, [k, false]);
  if (!US.has(b)) US.set(b, [k, true]);
}

/** Type `text` as press/release pairs (GS as Ctrl+]), then Enter. */
function typed(text: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const ch of text) {
    if (ch === GS) out.push(rep(0x01, 0x30), REL);
    else {
      const [k, shift] = US.get(ch)!;
      out.push(rep(shift ? 0x02 : 0, k), REL);
    }
  }
  out.push(rep(0, 0x28), REL);
  return out;
}

describe('KeyboardWedgeDecoder [USB HID 1.11 B.1, US layout]', () => {
  it('replays the capture: shift, Ctrl+] = GS, rollover, repeated state, phantom state, Alt+keypad', () => {
    const frames = expectSplitInvariant(make, loadCapture('barcode/keyboard-wedge-us.hex'));
    expect(frames).toEqual(loadExpected('barcode/keyboard-wedge-us.hex'));
    expect(frames[0]).toContain(GS);
  });

  it('types a held key once, and a key twice only after a release', () => {
    const d = make();
    const out = [rep(0, 0x04), rep(0, 0x04), rep(0, 0x04), REL, rep(0, 0x04), REL, rep(0, 0x28)].flatMap((r) => d.push(r));
    expect(out).toEqual(['aa']);
  });

  it('treats a key as new only when absent from the previous report (rollover)', () => {
    const d = make();
    // a down; a+b down; b down; b+a down (a pressed again while b is held); all up; Enter
    const seq = [rep(0, 0x04), rep(0, 0x04, 0x05), rep(0, 0x05), rep(0, 0x05, 0x04), REL, rep(0, 0x28)];
    expect(seq.flatMap((r) => d.push(r))).toEqual(['aba']);
  });

  it('maps Ctrl combinations to ASCII control characters', () => {
    const d = make();
    const seq = [rep(0x10, 0x30), REL, rep(0x01, 0x04), REL, rep(0x01, 0x2f), REL, rep(0x01, 0x31), REL,
      rep(0x03, 0x23), REL, rep(0x03, 0x2d), REL, rep(0x01, 0x3a), REL, rep(0, 0x28)];
    expect(seq.flatMap((r) => d.push(r))).toEqual(['\u001d\u0001\u001b\u001c\u001e\u001f']);
  });

  it('reads keypad keys, ignores unknown usages and empty scans', () => {
    const d = make();
    const seq = [rep(0, 0x28), REL, rep(0, 0x59), REL, rep(0, 0x62), REL, rep(0, 0x63), REL, rep(0, 0x57), REL,
      rep(0, 0x39), REL, rep(0, 0xa5), REL, rep(0, 0x2b), REL, rep(0, 0x58)];
    expect(seq.flatMap((r) => d.push(r))).toEqual(['10.+\t']);
  });

  it('flushes Alt+keypad at Enter and ignores non-digits under Alt; Alt+0 types nothing', () => {
    const d = make();
    const seq = [rep(0x04, 0x62), rep(0x04), rep(0x40, 0x04), rep(0x40), REL, rep(0x04, 0x5e), rep(0x04, 0x5e, 0x5d), rep(0x04, 0x28)];
    expect(seq.flatMap((r) => d.push(r))).toEqual(['A']); // "65" -> 'A'
  });

  it('drops reports with a non-zero reserved byte or modifier usages in the key slots', () => {
    const d = make();
    const bad1 = rep(0, 0x04);
    bad1[1] = 1;
    const bad2 = rep(0, 0xe1);
    expect([bad1, bad2, ...typed('ok')].flatMap((r) => d.push(r))).toEqual(['ok']);
    expect(d.stats).toEqual({ frames: 1, droppedBytes: 0, droppedFrames: 2 });
  });

  it('drops an over-long scan, and forgets everything on reset', () => {
    const d = new KeyboardWedgeDecoder({ maxLength: 3 });
    expect(typed('abcd').flatMap((r) => d.push(r))).toEqual([]);
    expect(d.stats.droppedFrames).toBe(1);
    d.push(rep(0, 0x04));
    d.push(Uint8Array.of(0, 0, 5));
    d.reset();
    expect(typed('abc').flatMap((r) => d.push(r))).toEqual(['abc']);
  });

  const printable = fc.string({ unit: fc.constantFrom(...US.keys(), GS), minLength: 1, maxLength: 40 });

  it('round-trips any text typed on the US layout', () => {
    fc.assert(fc.property(fc.array(printable, { minLength: 1, maxLength: 5 }), (texts) => {
      expect(feed(make, texts.flatMap(typed))).toEqual(texts);
    }));
  });

  it('never throws on random reports and finds every scan between invalid reports', () => {
    const invalid = fc.uint8Array({ minLength: 8, maxLength: 8 }).map((r) => {
      r[1] = r[1] || 1; // reserved byte non-zero: not a boot report
      return r;
    });
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 8, maxLength: 8 }), { maxLength: 50 }), (reports) => {
        feed(make, reports);
      }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(printable, fc.array(invalid, { maxLength: 3 })), { minLength: 1, maxLength: 4 }), (items) => {
        const chunks = items.flatMap(([t, noise]) => [...noise, ...typed(t)]);
        expect(feed(make, chunks)).toEqual(items.map(([t]) => t));
      }),
    );
  });
});
