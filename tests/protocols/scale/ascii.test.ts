import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AsciiScaleParser, parseAsciiLine, parseCasLine, parseHeaderLine, parseOhausLine, parseYaohuaLine } from '../../../protocols/scale/ascii.js';
import { expectSplitInvariant } from '../../helpers/replay.js';

const latin1 = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'));

/** XK3190-A12(E) check computed independently: XOR folded with reduce, printed with toString(16). */
function a12Check(body: string): string {
  return [...body]
    .reduce((x, c) => x ^ c.charCodeAt(0), 0)
    .toString(16)
    .toUpperCase()
    .padStart(2, '0');
}

describe('A&D / generic header lines', () => {
  it('reads the tolerant grammar of device-protocols.md', () => {
    expect(parseHeaderLine('ST,GS,+0012.34kg')).toEqual({ kind: 'weight', weight: 12.34, unit: 'kg', weightKg: 12.34, stable: true, net: false });
    expect(parseHeaderLine('US,NT,-0001.50kg')).toEqual({ kind: 'weight', weight: -1.5, unit: 'kg', weightKg: -1.5, stable: false, net: true });
    expect(parseHeaderLine('ST,PT,+0001.50kg')).toEqual({ kind: 'tare', tare: 1.5, unit: 'kg', tareKg: 1.5, stable: true, preset: true });
    expect(parseHeaderLine('ST,T ,+0001.50xx')).toEqual({ kind: 'tare', tare: 1.5, unit: 'xx', stable: true });
    expect(parseHeaderLine('ST,N ,+0001.50kg')).toMatchObject({ net: true });
  });

  it('reads the A&D CSV variant, a unitless value and QT without a unit', () => {
    expect(parseHeaderLine('ST,+0001.278, ct')).toEqual({ kind: 'weight', weight: 1.278, unit: 'ct', weightKg: 0.0002556, stable: true });
    expect(parseHeaderLine('ST,+0001234')).toEqual({ kind: 'weight', weight: 1234, unit: '', stable: true });
    expect(parseHeaderLine('QT,+00000012')).toEqual({ kind: 'count', count: 12, unit: 'PC', stable: true });
    expect(parseHeaderLine('OL,+9999999E+19, ct')).toEqual({ kind: 'status', status: 'overload' });
  });

  it.each([['XX,GS,+1kg'], ['ST,GS,'], ['ST,GS,+1.2.3kg'], ['ST,GS,abc'], ['QT,+12.5 PC'], ['ST,+12 k g x']])('rejects %j', (line) => {
    expect(parseHeaderLine(line)).toBeUndefined();
  });
});

describe('CAS 22-byte lines', () => {
  const lamp = (bits: number): string => String.fromCharCode(0x80 | bits);

  it('reads header, ID and data, and takes the lamp byte only as a format marker', () => {
    expect(parseCasLine(`ST,NT,7${lamp(0x60)},-00013.5 kg`)).toEqual({
      kind: 'weight',
      weight: -13.5,
      unit: 'kg',
      weightKg: -13.5,
      stable: true,
      net: true,
      deviceId: '7',
    });
    expect(parseCasLine(`ST,GS,1${lamp(0x64)},0001.200  t`)).toMatchObject({ weight: 1.2, unit: 't', weightKg: 1200 });
    expect(parseCasLine(`OL,GS,1${lamp(0x20)},99999999 kg`)).toEqual({ kind: 'status', status: 'overload' });
    expect(parseCasLine(`OL,GS,1${lamp(0x20)},-9999999 kg`)).toEqual({ kind: 'status', status: 'underload' });
  });

  it('rejects lines that are not CAS (lamp bit 7 clear, wrong headers, bad data)', () => {
    expect(parseCasLine('ST,GS,1\x64,000013.5 kg')).toBeUndefined();
    expect(parseCasLine(`XX,GS,1${lamp(0x64)},000013.5 kg`)).toBeUndefined();
    expect(parseCasLine(`ST,GS,1${lamp(0x64)},0000AB.5 kg`)).toBeUndefined();
    expect(parseCasLine('ST,GS,+0012.34kg')).toBeUndefined();
  });
});

describe('Ohaus lines', () => {
  it('reads the legend, the ? marker, tares and counts', () => {
    expect(parseOhausLine('     1.234 kg    ?  N')).toMatchObject({ stable: false, net: true });
    expect(parseOhausLine('     1.234 kg       T')).toEqual({ kind: 'tare', tare: 1.234, unit: 'kg', tareKg: 1.234, stable: true });
    expect(parseOhausLine('     1.234 kg       PT')).toMatchObject({ kind: 'tare', preset: true });
    expect(parseOhausLine('     1.234 kg       B/G')).toMatchObject({ kind: 'weight', net: false });
    expect(parseOhausLine('       125 PCS')).toEqual({ kind: 'count', count: 125, unit: 'PCS', stable: true });
    expect(parseOhausLine('    176.30 g ? 00:00:15')).toMatchObject({ weight: 176.3, stable: false });
    expect(parseOhausLine('    192.21 g   TOTAL')).toBeUndefined();
  });
});

describe('Yaohua XK3190-A12 and Liden lines', () => {
  it('the manual checksums match an independent XOR', () => {
    expect(a12Check('WG004.139kg')).toBe('3D');
    expect(a12Check('         OL')).toBe('23');
    expect(a12Check('         LO')).toBe('23');
  });

  it('reads a line without decimals (blank 9th byte) and negative weights, and drops a bad check', () => {
    const body = 'WN-04139 kg';
    expect(parseYaohuaLine(body + a12Check(body))).toEqual({ kind: 'weight', weight: -4139, unit: 'kg', weightKg: -4139, net: true });
    expect(parseYaohuaLine('WG004.139kg3E')).toBeUndefined();
    expect(parseYaohuaLine('         OL24')).toBeUndefined();
    expect(parseYaohuaLine('WG0A4.139kg' + a12Check('WG0A4.139kg'))).toBeUndefined();
    expect(parseYaohuaLine('wt0002.500kg')).toEqual({ kind: 'tare', tare: 2.5, unit: 'kg', tareKg: 2.5 });
  });
});

describe('AsciiScaleParser', () => {
  it('mixes formats on one stream and counts unknown lines', () => {
    const p = new AsciiScaleParser();
    const frames = p.push(latin1('ST,GS,+0012.34kg\r\nhello\r\n     192.21 g\r\n'));
    expect(frames).toHaveLength(2);
    expect(p.stats).toEqual({ frames: 2, droppedBytes: 0, droppedFrames: 1 });
    expect(parseAsciiLine('hello')).toBeUndefined();
  });

  it('property: noise lines between valid lines never hide one; random bytes never throw', () => {
    const valid = ['ST,GS,+0012.34kg', 'ST,+001234.5  g', `ST,GS,1${String.fromCharCode(0xe4)},000013.5 kg`, '     192.21 g', 'WG004.139kg3D', 'OL,+999999.9  g'];
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...valid), fc.uint8Array({ maxLength: 15 })), { minLength: 1, maxLength: 6 }), (items) => {
        const parts: number[] = [];
        for (const [line, noise] of items) parts.push(...noise, 0x0d, 0x0a, ...latin1(`${line}\r\n`));
        const frames = expectSplitInvariant(() => new AsciiScaleParser(), Uint8Array.from(parts));
        const want = items.map(([line]) => parseAsciiLine(line));
        let k = 0;
        for (const f of frames) if (k < want.length && JSON.stringify(f) === JSON.stringify(want[k])) k++;
        expect(k).toBe(want.length);
      }),
      { numRuns: 150 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        const p = new AsciiScaleParser();
        p.push(b);
        p.end();
      }),
    );
  });
});
