import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ScanLineParser } from '../../../protocols/barcode/scan-line-parser.js';
import type { ClassifiedScan } from '../../../protocols/barcode/classify-scan.js';
import { expectSplitInvariant, feed, loadCapture, loadExpected } from '../../helpers/replay.js';

const now = new Date('2025-06-01T00:00:00Z');
const make = () => new ScanLineParser({ now });

/** The fields the fixture's expected JSON lists, picked from a classified scan. */
function project(c: ClassifiedScan): Record<string, unknown> {
  const out: Record<string, unknown> = { type: c.type };
  if (c.aim) out.aim = c.aim.id;
  if (c.type === 'plain') {
    out.data = c.data;
    if (c.gtin) out.gtin = c.gtin;
  } else if (c.type === 'invalid') {
    out.code = c.error.code;
  } else {
    const { ais, elements: _e, form: _f, aim: _a, ...fields } = c.gs1;
    Object.assign(out, { ais }, fields);
  }
  return out;
}

describe('ScanLineParser (USB-CDC / serial scanners)', () => {
  it('replays the CDC capture: GS1-128, GS1 DataMatrix, GS1 QR, DataBar, Digital Link, EAN-13, plain, errors', () => {
    const frames = expectSplitInvariant(make, loadCapture('barcode/cdc-scan-lines.hex'));
    expect(frames.map(project)).toEqual(loadExpected('barcode/cdc-scan-lines.hex'));
  });

  it('counts frames and drops over-long lines', () => {
    const p = new ScanLineParser({ now, maxLength: 8 });
    expect(p.push(Buffer.from('MODE:ISSUE\rSKU1\r'))).toEqual([{ type: 'plain', data: 'SKU1' }]);
    expect(p.stats).toMatchObject({ frames: 1, droppedFrames: 1 });
    p.push(Buffer.from('SKU'));
    p.reset();
    expect(p.push(Buffer.from('2\r'))).toEqual([{ type: 'plain', data: '2' }]);
  });

  it('never throws on random bytes and still finds scans between noise lines', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (noise) => {
        const bytes = Buffer.concat([Buffer.from(noise), Buffer.from('\r\nMODE:ISSUE\r\n')]);
        const frames = feed(make, [bytes]);
        expect(frames.at(-1)).toEqual({ type: 'plain', data: 'MODE:ISSUE' });
      }),
    );
  });
});
