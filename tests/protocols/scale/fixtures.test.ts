import { describe, expect, it } from 'vitest';
import { expectSplitInvariant, feed, loadCapture, loadExpected } from '../../helpers/replay.js';
import type { ScaleParser } from '../../../protocols/scale/scale-parser.js';
import { MtSicsParser } from '../../../protocols/scale/mt-sics.js';
import { ToledoContinuousParser } from '../../../protocols/scale/toledo.js';
import { AsciiScaleParser } from '../../../protocols/scale/ascii.js';
import { Xk3190Parser } from '../../../protocols/scale/xk3190.js';

// Each byte-exact capture (from the manuals / the reference doc, see the comment at the top of each
// .hex) replays to the frames in the .json beside it, however the bytes are split.
const CASES: Array<[string, () => ScaleParser]> = [
  ['scale/mt-sics-s.hex', () => new MtSicsParser()],
  ['scale/mt-sics-si.hex', () => new MtSicsParser()],
  ['scale/mt-sics-sir.hex', () => new MtSicsParser()],
  ['scale/mt-sics-z.hex', () => new MtSicsParser()],
  ['scale/mt-sics-t.hex', () => new MtSicsParser()],
  ['scale/mt-sics-reset.hex', () => new MtSicsParser()],
  ['scale/mt-sics-errors.hex', () => new MtSicsParser()],
  ['scale/toledo-12.50kg-chk.hex', () => new ToledoContinuousParser({ checksum: true })],
  ['scale/toledo-12.50kg-nochk.hex', () => new ToledoContinuousParser({ checksum: false })],
  ['scale/toledo-variants.hex', () => new ToledoContinuousParser({ checksum: true })],
  // 'auto' learns "checksum present" from the first frame (whose checksum is 0x0D, the CR byte).
  ['scale/toledo-variants.hex', () => new ToledoContinuousParser()],
  ['scale/ascii-and.hex', () => new AsciiScaleParser()],
  ['scale/ascii-cas.hex', () => new AsciiScaleParser()],
  ['scale/ascii-ohaus.hex', () => new AsciiScaleParser()],
  ['scale/ascii-generic.hex', () => new AsciiScaleParser()],
  ['scale/ascii-yaohua-a12.hex', () => new AsciiScaleParser()],
  ['scale/xk3190-tf0.hex', () => new Xk3190Parser()],
  ['scale/xk3190-reversed.hex', () => new Xk3190Parser()],
  ['scale/xk3190-order.hex', () => new Xk3190Parser()],
];

describe('scale capture fixtures', () => {
  it.each(CASES)('%s replays to its expected frames', (rel, make) => {
    const bytes = loadCapture(rel);
    const frames = expectSplitInvariant(make, bytes);
    expect(frames).toEqual(loadExpected(rel));
    const p = make();
    p.push(bytes);
    expect(p.stats).toEqual({ frames: frames.length, droppedBytes: 0, droppedFrames: 0 });
    expect(p.end()).toEqual([]);
  });

  it('JSON of the fixtures survives a JSON round trip unchanged (no NaN, no -0, no float artefacts)', () => {
    for (const [rel, make] of CASES) {
      const frames = feed(make, [loadCapture(rel)]);
      expect(JSON.parse(JSON.stringify(frames))).toEqual(frames);
      for (const f of frames) {
        for (const v of Object.values(f)) {
          // 0.1 + 0.2 prints 17 significant digits; device values never need more than 14.
          if (typeof v === 'number') expect(String(v).replace(/[-.]/g, '').replace(/^0+/, '').length).toBeLessThanOrEqual(14);
        }
      }
    }
  });
});
