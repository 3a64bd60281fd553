import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  encodeAscii,
  encodeMtSics,
  encodeToledo,
  encodeXk3190,
  encodeXk3190Reply,
  splitDivision,
  type AsciiFormat,
} from '../../../protocols/scale/encode.js';
import { MtSicsParser } from '../../../protocols/scale/mt-sics.js';
import { ToledoContinuousParser } from '../../../protocols/scale/toledo.js';
import { AsciiScaleParser } from '../../../protocols/scale/ascii.js';
import { Xk3190Parser } from '../../../protocols/scale/xk3190.js';
import type { ScaleFrame, WeightFrame } from '../../../protocols/scale/scale-frame.js';
import type { ScaleParser } from '../../../protocols/scale/scale-parser.js';
import { ProtocolError } from '../../../protocols/errors.js';
import { loadCapture } from '../../helpers/replay.js';

const text = (b: Uint8Array): string => Buffer.from(b).toString('latin1');
const parseAll = (p: ScaleParser, b: Uint8Array): ScaleFrame[] => [...p.push(b), ...p.end()];

/** A random weight as a device shows it: an integer count of 10^-decimals. */
const deviceWeight = (maxDigits: number, maxDecimals: number) =>
  fc.record({
    units: fc.integer({ min: -(10 ** maxDigits - 1), max: 10 ** maxDigits - 1 }),
    decimals: fc.integer({ min: 0, max: maxDecimals }),
  });
const valueOf = ({ units, decimals }: { units: number; decimals: number }): number => Number((units / 10 ** decimals).toFixed(decimals));

describe('encoders reproduce the manual examples byte for byte', () => {
  it('MT-SICS: S S     100.00 g', () => {
    expect(text(encodeMtSics({ kind: 'weight', weight: 100, unit: 'g', stable: true }, { decimals: 2 }))).toBe('S S     100.00 g\r\n');
  });

  it('Toledo: the verified 12.50 kg frame with checksum 2D', () => {
    const frame: WeightFrame = { kind: 'weight', weight: 12.5, unit: 'kg', stable: true, net: false, tare: 0, division: 0.01 };
    expect(encodeToledo(frame)).toEqual(loadCapture('scale/toledo-12.50kg-chk.hex'));
    expect(encodeToledo({ kind: 'weight', weight: 12.5, unit: 'kg', stable: true }, { decimals: 2, checksum: false })).toEqual(
      loadCapture('scale/toledo-12.50kg-chk.hex').subarray(0, 17),
    );
  });

  it('XK3190: "=000.3000", "=00.1000-" and the real 1560 kg tF=0 frame', () => {
    expect(text(encodeXk3190({ kind: 'weight', weight: 3, unit: 'kg' }, 'reversed', { decimals: 3 }))).toBe('=000.3000');
    expect(text(encodeXk3190({ kind: 'weight', weight: -1, unit: 'kg' }, 'reversed', { decimals: 2 }))).toBe('=00.1000-');
    expect(encodeXk3190({ kind: 'weight', weight: 1560, unit: 'kg' }, 'stx')).toEqual(loadCapture('scale/xk3190-tf0.hex').subarray(12, 24));
  });

  it('XK3190 order-method replies equal the fixture', () => {
    const all = loadCapture('scale/xk3190-order.hex');
    const parts = [
      encodeXk3190Reply({ kind: 'ack', command: 'A' }),
      encodeXk3190Reply({ kind: 'weight', weight: 1560, unit: 'kg', net: false }, 'A'),
      encodeXk3190Reply({ kind: 'weight', weight: -1.2, unit: 'kg', net: true, deviceId: 'A' }, undefined, { decimals: 2 }),
      encodeXk3190Reply({ kind: 'tare', tare: 50, unit: 'kg' }, 'A'),
    ];
    expect(Uint8Array.from(parts.flatMap((p) => Array.from(p)))).toEqual(all);
  });

  it('ASCII: A&D "ST,+001234.5  g", CAS 13.5 kg, A12(E) "WG004.139kg3D"', () => {
    expect(text(encodeAscii({ kind: 'weight', weight: 1234.5, unit: 'g', stable: true }, 'and'))).toBe('ST,+001234.5  g\r\n');
    expect(encodeAscii({ kind: 'weight', weight: 13.5, unit: 'kg', stable: true, net: false }, 'cas')).toEqual(loadCapture('scale/ascii-cas.hex').subarray(0, 22));
    expect(text(encodeAscii({ kind: 'weight', weight: 4.139, unit: 'kg', net: false }, 'a12e'))).toBe('WG004.139kg3D\r\n');
    expect(text(encodeAscii({ kind: 'status', status: 'overload' }, 'a12e'))).toBe('         OL23\r\n');
    expect(text(encodeAscii({ kind: 'weight', weight: 15, unit: 'kg', net: false }, 'yaohua-w', { decimals: 3 }))).toBe('ww00015.000kg\r\n');
  });
});

describe('round trips: encode random readings -> parse -> the same reading', () => {
  it('MT-SICS weights, tares, counts and replies', () => {
    fc.assert(
      fc.property(deviceWeight(7, 4), fc.boolean(), fc.constantFrom('g', 'kg', 'lb', 'oz', 'mg', 't'), (w, stable, unit) => {
        const weight = valueOf(w);
        const [f] = parseAll(new MtSicsParser(), encodeMtSics({ kind: 'weight', weight, unit, stable }, { decimals: w.decimals }));
        expect(f).toMatchObject({ kind: 'weight', weight, unit, stable });
        const [t] = parseAll(new MtSicsParser(), encodeMtSics({ kind: 'tare', tare: weight, unit, stable }, { decimals: w.decimals }));
        expect(t).toMatchObject({ kind: 'tare', tare: weight, stable });
      }),
    );
    const others: ScaleFrame[] = [
      { kind: 'count', count: 125, unit: 'PCS', stable: true },
      { kind: 'tare', tare: 1.5, unit: 'kg', tareKg: 1.5, preset: true },
      { kind: 'status', status: 'overload', command: 'Z' },
      { kind: 'status', status: 'logic-error', command: 'D' },
      { kind: 'status', status: 'logic-error' },
      { kind: 'status', status: 'syntax-error' },
      { kind: 'status', status: 'transmission-error' },
      { kind: 'status', status: 'not-executable', command: 'S' },
      { kind: 'ack', command: 'Z' },
      { kind: 'ack', command: 'ZI', stable: false },
      { kind: 'info', command: 'I2', values: ['ICS469 OU 60.18 kg'] },
      { kind: 'info', command: 'I0', values: ['1', 'D'], more: true },
      { kind: 'info', command: 'I4', values: ['B123'], serialNumber: 'B123' },
      { kind: 'reply', command: 'M21', status: 'A', values: ['0', 'two words'] },
    ];
    for (const f of others) expect(parseAll(new MtSicsParser(), encodeMtSics(f))).toEqual([f]);
    expect(text(encodeMtSics({ kind: 'status', status: 'overload' }))).toBe('S +\r\n');
  });

  it('Toledo weights with any decimal position, increment, unit, sign, motion, net and tare', () => {
    fc.assert(
      fc.property(
        deviceWeight(6, 5),
        fc.integer({ min: 0, max: 999999 }),
        fc.constantFrom<1 | 2 | 5>(1, 2, 5),
        fc.constantFrom('kg', 'lb', 'g'),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        (w, tareUnits, increment, unit, stable, net, checksum) => {
          const weight = valueOf(w);
          const tare = Number((tareUnits / 10 ** w.decimals).toFixed(w.decimals));
          const bytes = encodeToledo({ kind: 'weight', weight, unit, stable, net, tare }, { decimals: w.decimals, increment, checksum });
          const frames = parseAll(new ToledoContinuousParser({ checksum }), bytes);
          expect(frames).toHaveLength(1);
          expect(frames[0]).toMatchObject({ kind: 'weight', weight, unit, stable, net, tare });
          // Re-encoding the parsed frame (division carries decimals and increment) gives the same bytes.
          expect(encodeToledo(frames[0] as WeightFrame, { checksum })).toEqual(bytes);
        },
      ),
    );
  });

  it('Toledo dummy-zero positions and status frames', () => {
    for (const decimals of [-2, -1]) {
      const bytes = encodeToledo({ kind: 'weight', weight: 12300, unit: 'kg', stable: true }, { decimals });
      expect(parseAll(new ToledoContinuousParser(), bytes)).toMatchObject([{ weight: 12300, division: 10 ** -decimals }]);
    }
    for (const status of ['overload', 'underload'] as const) {
      expect(parseAll(new ToledoContinuousParser(), encodeToledo({ kind: 'status', status }))).toEqual([{ kind: 'status', status }]);
    }
  });

  it('ASCII formats', () => {
    const formats: AsciiFormat[] = ['and', 'generic', 'cas', 'ohaus', 'yaohua-w', 'a12e'];
    fc.assert(
      fc.property(deviceWeight(5, 3), fc.boolean(), fc.boolean(), fc.constantFrom(...formats), (w, stable, net, format) => {
        const weight = valueOf(w);
        const frame: WeightFrame = { kind: 'weight', weight, unit: 'kg', stable, net };
        const [f] = parseAll(new AsciiScaleParser(), encodeAscii(frame, format, { decimals: w.decimals }));
        expect(f).toMatchObject({ kind: 'weight', weight, unit: 'kg', weightKg: weight });
        if (format !== 'yaohua-w' && format !== 'a12e') expect(f).toMatchObject({ stable });
        expect((f as WeightFrame).net).toBe(net);
      }),
    );
    const more: Array<[ScaleFrame, AsciiFormat]> = [
      [{ kind: 'count', count: 1234, unit: 'PC', stable: true }, 'and'],
      [{ kind: 'count', count: 12, unit: 'PCS', stable: false }, 'ohaus'],
      [{ kind: 'tare', tare: 1.5, unit: 'kg', tareKg: 1.5, stable: true }, 'and'],
      [{ kind: 'tare', tare: 1.5, unit: 'kg', tareKg: 1.5, stable: true, preset: true }, 'generic'],
      [{ kind: 'tare', tare: 1.5, unit: 'kg', tareKg: 1.5, stable: true }, 'ohaus'],
      [{ kind: 'tare', tare: 1.5, unit: 'kg', tareKg: 1.5, preset: true, stable: true }, 'ohaus'],
      [{ kind: 'tare', tare: 2.5, unit: 'kg', tareKg: 2.5 }, 'yaohua-w'],
      [{ kind: 'status', status: 'overload' }, 'and'],
      [{ kind: 'status', status: 'underload' }, 'generic'],
      [{ kind: 'status', status: 'overload' }, 'cas'],
      [{ kind: 'status', status: 'underload' }, 'cas'],
      [{ kind: 'status', status: 'underload' }, 'a12e'],
      [{ kind: 'weight', weight: -3.5, unit: 'kg', weightKg: -3.5, stable: true, net: true, deviceId: '9' }, 'cas'],
    ];
    for (const [f, format] of more) expect(parseAll(new AsciiScaleParser(), encodeAscii(f, format))).toEqual([f]);
  });

  it('XK3190 STX and reversed frames', () => {
    fc.assert(
      fc.property(deviceWeight(6, 4), fc.constantFrom<'stx' | 'reversed'>('stx', 'reversed'), (w, format) => {
        const weight = valueOf(w);
        // The reversed stream has 7 characters including the point.
        fc.pre(format === 'stx' || Math.abs(weight).toFixed(w.decimals).length <= 7);
        const [f] = parseAll(new Xk3190Parser(), encodeXk3190({ kind: 'weight', weight, unit: 'kg' }, format, { decimals: w.decimals }));
        expect(f).toEqual({ kind: 'weight', weight, unit: 'kg', weightKg: weight });
      }),
    );
  });
});

describe('encoders refuse what the format cannot carry', () => {
  const w = (weight: number, unit = 'kg'): WeightFrame => ({ kind: 'weight', weight, unit, stable: true });
  it.each([
    ['Toledo 7 digits', () => encodeToledo(w(1234567))],
    ['Toledo decimals 6', () => encodeToledo(w(1), { decimals: 6 })],
    ['Toledo unit t', () => encodeToledo(w(1, 't'))],
    ['Toledo status not-executable', () => encodeToledo({ kind: 'status', status: 'not-executable' })],
    ['XK3190 7 digits', () => encodeXk3190(w(1234567), 'stx')],
    ['XK3190 decimals 5', () => encodeXk3190(w(1), 'stx', { decimals: 5 })],
    ['XK3190 reversed too long', () => encodeXk3190(w(12345.678), 'reversed')],
    ['XK3190 bad address', () => encodeXk3190Reply(w(1), 'a')],
    ['ASCII ack', () => encodeAscii({ kind: 'ack', command: 'Z' }, 'and')],
    ['A&D not-executable', () => encodeAscii({ kind: 'status', status: 'not-executable' }, 'and')],
    ['CAS count', () => encodeAscii({ kind: 'count', count: 1, unit: 'PC', stable: true }, 'cas')],
    ['CAS bad id', () => encodeAscii(w(1), 'cas', { deviceId: '12' })],
    ['CAS too long', () => encodeAscii(w(123456789), 'cas')],
    ['CAS status', () => encodeAscii({ kind: 'status', status: 'syntax-error' }, 'cas')],
    ['Ohaus status', () => encodeAscii({ kind: 'status', status: 'overload' }, 'ohaus')],
    ['w count', () => encodeAscii({ kind: 'count', count: 1, unit: 'PC', stable: true }, 'yaohua-w')],
    ['A12E too long', () => encodeAscii(w(12345678), 'a12e')],
    ['A12E tare', () => encodeAscii({ kind: 'tare', tare: 1, unit: 'kg' }, 'a12e')],
    ['A12E status', () => encodeAscii({ kind: 'status', status: 'logic-error' }, 'a12e')],
  ])('%s', (_name, fn) => {
    expect(fn).toThrow(ProtocolError);
  });

  it('splitDivision finds increment and decimals', () => {
    expect(splitDivision(0.05)).toEqual({ increment: 5, decimals: 2 });
    expect(splitDivision(20)).toEqual({ increment: 2, decimals: -1 });
    expect(splitDivision(3)).toBeUndefined();
  });
});
