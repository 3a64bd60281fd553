import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyScan } from '../../../protocols/barcode/classify-scan.js';
import { HidPosAssembler, type HidPosLayout, type HidPosScan } from '../../../protocols/barcode/hid-pos.js';
import { expectSplitInvariant, feed, loadCapture, loadExpected } from '../../helpers/replay.js';

const honeywell = () => new HidPosAssembler({ layout: 'honeywell' });
const newland = () => new HidPosAssembler({ layout: 'newland' });

/** Compare on the fields the expected JSON lists, with the AIM id as its 3 characters. */
const project = (s: HidPosScan) => {
  const { aim, symbology, ...rest } = s;
  return { ...rest, ...(aim ? { aim: aim.id } : {}), ...(symbology ? { symbology } : {}) };
};

/** Build one report per the documented offsets (independently of the assembler). */
function report(layout: HidPosLayout, data: number[], more: boolean, aim = ']C1', code = 0x49): Uint8Array {
  const r = new Uint8Array(64);
  r[0] = 0x02;
  r[1] = data.length;
  if (layout === 'honeywell') {
    r.set(Buffer.from(aim, 'latin1'), 2);
    r.set(data, 5);
    r[61] = code;
  } else {
    r.set(data, 2);
    r[62] = code;
  }
  r[63] = more ? 1 : 0;
  return r;
}

function reportsFor(layout: HidPosLayout, text: string): Uint8Array[] {
  const bytes = [...Buffer.from(text, 'latin1')];
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += 56) out.push(report(layout, bytes.slice(i, i + 56), i + 56 < bytes.length));
  return out;
}

describe('HidPosAssembler: Honeywell layout', () => {
  it('replays a real Voyager 1602g capture: 6 reports then 1', () => {
    const bytes = loadCapture('barcode/honeywell-revinf.hex');
    const scans = expectSplitInvariant(honeywell, bytes);
    expect(scans.map(project)).toEqual(loadExpected('barcode/honeywell-revinf.hex'));
    expect(scans[0]!.text).toMatch(/^Product Name: Voyager 1602g\r\n/);
    expect(scans[0]!.text).toMatch(/Checksum: N\/A\r\n$/);
  });

  it('replays a GS1-128 scan over two reports and hands it to classifyScan', () => {
    const scans = expectSplitInvariant(honeywell, loadCapture('barcode/honeywell-gs1-128.hex'));
    expect(scans.map(project)).toEqual(loadExpected('barcode/honeywell-gs1-128.hex'));
    const c = classifyScan(scans[0]!.text, { aim: scans[0]!.aim, now: new Date('2025-06-01T00:00:00Z') });
    expect(c).toMatchObject({
      type: 'gs1',
      gs1: { gtin: '09506000134352', batch: 'LOT-2025-0042-ABCDEF', serial: 'SN000000000000012345', netWeightKg: 12.5, expiry: '2026-12-31' },
    });
  });
});

describe('HidPosAssembler: Newland layout', () => {
  it('replays a GS1 DataMatrix over two reports with the AIM id in the data', () => {
    const scans = expectSplitInvariant(newland, loadCapture('barcode/newland-gs1-datamatrix.hex'));
    expect(scans.map(project)).toEqual(loadExpected('barcode/newland-gs1-datamatrix.hex'));
  });
});

describe('HidPosAssembler: robustness', () => {
  it('drops reports that are not scanned-data reports, and counts them', () => {
    const p = honeywell();
    const other = new Uint8Array(64).fill(0x11); // report ID 0x11
    const tooLong = report('honeywell', [0x41], false);
    tooLong[1] = 57;
    expect(p.push(other)).toEqual([]);
    expect(p.push(tooLong)).toEqual([]);
    expect(p.push(report('honeywell', [0x41], false))).toMatchObject([{ text: 'A' }]);
    expect(p.stats).toEqual({ frames: 1, droppedBytes: 0, droppedFrames: 2 });
  });

  it('ignores empty reports and starts over when the AIM id changes mid-scan', () => {
    const p = honeywell();
    expect(p.push(report('honeywell', [], false))).toEqual([]);
    p.push(report('honeywell', [0x41], true, ']C1'));
    expect(p.push(report('honeywell', [0x42], false, ']E0', 0x64))).toMatchObject([{ text: 'B', aim: { id: ']E0' } }]);
    expect(p.stats.droppedFrames).toBe(1);
  });

  it('drops a scan over maxLength and a partial scan on reset', () => {
    const p = new HidPosAssembler({ layout: 'newland', maxLength: 60 });
    const out = reportsFor('newland', 'X'.repeat(100)).flatMap((r) => p.push(r));
    expect(out).toEqual([]);
    expect(p.stats.droppedFrames).toBe(1);
    p.push(reportsFor('newland', 'Y'.repeat(70))[0]!);
    p.reset();
    expect(p.stats.droppedFrames).toBe(2);
    expect(p.push(report('newland', [0x5a], false, '', 0))).toEqual([{ text: 'Z', layout: 'newland', reports: 1 }]);
  });

  it('rejects an unknown layout at once (misuse)', () => {
    expect(() => new HidPosAssembler({ layout: 'zebra' as HidPosLayout })).toThrow(TypeError);
  });

  const text = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 200 });

  it.each(['honeywell', 'newland'] as const)('%s: never throws on random reports', (layout) => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 64, maxLength: 64 }), { maxLength: 20 }), (reports) => {
        const p = new HidPosAssembler({ layout });
        for (const r of reports) p.push(r);
        expect(p.stats.frames + p.stats.droppedFrames).toBeLessThanOrEqual(reports.length);
      }),
    );
  });

  it.each(['honeywell', 'newland'] as const)('%s: finds every scan between foreign reports, in order', (layout) => {
    // Foreign reports (another report ID) cannot be mistaken for scanned data.
    const foreign = fc.uint8Array({ minLength: 64, maxLength: 64 }).map((r) => {
      r[0] = r[0] === 0x02 ? 0x03 : r[0]!;
      return r;
    });
    fc.assert(
      fc.property(fc.array(fc.tuple(text, fc.array(foreign, { maxLength: 2 })), { minLength: 1, maxLength: 5 }), (items) => {
        const chunks = items.flatMap(([t, noise]) => [...noise, ...reportsFor(layout, layout === 'newland' ? `]C0${t}` : t)]);
        const scans = feed(() => new HidPosAssembler({ layout }), chunks);
        // Newland data starting with an AIM id has it split off; honeywell gets ]C1 from bytes 2..4.
        expect(scans.map((s) => s.text)).toEqual(items.map(([t]) => t));
      }),
    );
  });
});
