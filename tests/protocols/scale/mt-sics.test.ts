import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MtSicsParser, parseMtSicsLine, tokenizeMtSics } from '../../../protocols/scale/mt-sics.js';
import { mtSics, mtSicsCommand } from '../../../protocols/scale/mt-sics-commands.js';
import { ProtocolError } from '../../../protocols/errors.js';
import { expectSplitInvariant } from '../../helpers/replay.js';

const bytes = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'));
const text = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

describe('parseMtSicsLine', () => {
  it('reads the manual example S S     100.00 g [MT-SICS command S]', () => {
    expect(parseMtSicsLine('S S     100.00 g')).toEqual({ kind: 'weight', weight: 100, unit: 'g', weightKg: 0.1, stable: true });
  });

  it('normalises lb, oz and mg to kg with exact factors and keeps unknown units without weightKg', () => {
    expect(parseMtSicsLine('S S      1.000 lb')).toMatchObject({ weightKg: 0.45359237 });
    expect(parseMtSicsLine('S S     16.000 oz')).toMatchObject({ weightKg: 0.45359237 });
    expect(parseMtSicsLine('S S    250.0 mg')).toMatchObject({ weightKg: 0.00025 });
    const ct = parseMtSicsLine('S S      5.000 ct');
    expect(ct).toMatchObject({ weightKg: 0.001 });
    const unknown = parseMtSicsLine('S S      5.000 mom');
    expect(unknown).toEqual({ kind: 'weight', weight: 5, unit: 'mom', stable: true });
    expect(unknown).not.toHaveProperty('weightKg');
  });

  it('reports piece counting (PCS) as a count, not a weight', () => {
    expect(parseMtSicsLine('S S        125 PCS')).toEqual({ kind: 'count', count: 125, unit: 'PCS', stable: true });
    expect(parseMtSicsLine('S S      12.5 PCS')).toBeUndefined();
  });

  it('reads tare replies T S, TI D and TA A (preset)', () => {
    expect(parseMtSicsLine('TI D      0.52 kg')).toEqual({ kind: 'tare', tare: 0.52, unit: 'kg', tareKg: 0.52, stable: false });
    expect(parseMtSicsLine('TA A    100.00 g')).toEqual({ kind: 'tare', tare: 100, unit: 'g', tareKg: 0.1, preset: true });
    expect(parseMtSicsLine('TA A    100.00 xx')).toEqual({ kind: 'tare', tare: 100, unit: 'xx', preset: true });
    expect(parseMtSicsLine('TAC A')).toEqual({ kind: 'ack', command: 'TAC' });
  });

  it('reads info replies with quoted text, I0 B lines and the logic-error status L', () => {
    expect(parseMtSicsLine('I2 A "ICS469 OU 60.18 kg"')).toEqual({ kind: 'info', command: 'I2', values: ['ICS469 OU 60.18 kg'] });
    expect(parseMtSicsLine('I0 B 0 "I0"')).toEqual({ kind: 'info', command: 'I0', values: ['0', 'I0'], more: true });
    // The last line of the I0 list: info with no more lines to follow.
    expect(parseMtSicsLine('I0 A')).toEqual({ kind: 'info', command: 'I0', values: [] });
    expect(parseMtSicsLine('I4 I')).toEqual({ kind: 'status', status: 'not-executable', command: 'I4' });
    expect(parseMtSicsLine('D L')).toEqual({ kind: 'status', status: 'logic-error', command: 'D' });
  });

  it('keeps replies it does not model as raw replies', () => {
    expect(parseMtSicsLine('D A')).toEqual({ kind: 'ack', command: 'D' });
    expect(parseMtSicsLine('M21 A 0 0')).toEqual({ kind: 'reply', command: 'M21', status: 'A', values: ['0', '0'] });
  });

  it.each([
    [''],
    ['s s 100.00 g'],
    ['S S'],
    ['S S     abc g'],
    ['S S     100.00'],
    ['S S     100.00 g extra'],
    ['S + 12'],
    ['EX'],
    ['S ? 1 g'],
    ['I4 A "unterminated'],
    ['T S 1.2.3 g'],
    ['T S 1.5'],
    ['\x00\x01'],
  ])('rejects the malformed line %j', (line) => {
    expect(parseMtSicsLine(line)).toBeUndefined();
  });

  it('tokenizes quoted text with spaces', () => {
    expect(tokenizeMtSics('I3 A "aa-bb cc"  "x"')).toEqual(['I3', 'A', 'aa-bb cc', 'x']);
    expect(tokenizeMtSics('A "b')).toBeUndefined();
  });
});

describe('MtSicsParser', () => {
  it('counts malformed lines as dropped frames and keeps going', () => {
    const p = new MtSicsParser();
    const frames = p.push(bytes('garbage\r\nS S     1.00 kg\r\n\r\n   \r\nS S\r\nZ A\r\n'));
    expect(frames).toEqual([{ kind: 'weight', weight: 1, unit: 'kg', weightKg: 1, stable: true }, { kind: 'ack', command: 'Z' }]);
    expect(p.stats).toEqual({ frames: 2, droppedBytes: 0, droppedFrames: 2 });
  });

  it('drops over-long lines whole and counts their bytes', () => {
    const p = new MtSicsParser({ maxLength: 20 });
    const frames = p.push(bytes(`${'x'.repeat(40)}\r\nZ A\r\n`));
    expect(frames).toEqual([{ kind: 'ack', command: 'Z' }]);
    expect(p.stats.droppedFrames).toBe(1);
    expect(p.stats.droppedBytes).toBeGreaterThan(20);
  });

  it('end() flushes an unterminated last line; reset() forgets a partial one', () => {
    const p = new MtSicsParser();
    expect(p.push(bytes('S S     2.00 g'))).toEqual([]);
    expect(p.end()).toEqual([{ kind: 'weight', weight: 2, unit: 'g', weightKg: 0.002, stable: true }]);
    p.push(bytes('S S     3.0'));
    p.reset();
    expect(p.push(bytes('0 g\r\n'))).toEqual([]);
  });

  it('split invariant and noise: random noise lines between valid replies never hide a reply', () => {
    const valid = ['S S     100.00 g', 'S D      2.345 kg', 'Z A', 'T S     1.00 kg', 'I4 A "SN 1"', 'ES', 'S +'];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...valid), fc.uint8Array({ maxLength: 12 })), { minLength: 1, maxLength: 6 }),
        (items) => {
          // Noise is closed by its own CR LF, so it can spoil only its own line.
          const parts: number[] = [];
          for (const [line, noise] of items) parts.push(...noise, 0x0d, 0x0a, ...bytes(`${line}\r\n`));
          const all = Uint8Array.from(parts);
          const frames = expectSplitInvariant(() => new MtSicsParser(), all);
          const expected = items.map(([line]) => parseMtSicsLine(line));
          // Every valid reply is found, in order (noise may add frames of its own only if it is itself valid MT-SICS).
          let k = 0;
          for (const f of frames) if (k < expected.length && JSON.stringify(f) === JSON.stringify(expected[k])) k++;
          expect(k).toBe(expected.length);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('never throws on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        const p = new MtSicsParser();
        p.push(b);
        p.end();
      }),
    );
  });
});

describe('MT-SICS commands', () => {
  it('builds the level 0/1 commands with CR LF [MT-SICS 2.1.1]', () => {
    expect(text(mtSics.stableWeight())).toBe('S\r\n');
    expect(text(mtSics.weightImmediately())).toBe('SI\r\n');
    expect(text(mtSics.weightRepeat())).toBe('SIR\r\n');
    expect(text(mtSics.zero())).toBe('Z\r\n');
    expect(text(mtSics.zeroImmediately())).toBe('ZI\r\n');
    expect(text(mtSics.tare())).toBe('T\r\n');
    expect(text(mtSics.tareImmediately())).toBe('TI\r\n');
    expect(text(mtSics.presetTare())).toBe('TA\r\n');
    expect(text(mtSics.presetTare(100, 'g'))).toBe('TA 100 g\r\n');
    expect(text(mtSics.presetTare(1.5))).toBe('TA 1.5 kg\r\n');
    expect(text(mtSics.clearTare())).toBe('TAC\r\n');
    expect(text(mtSics.reset())).toBe('@\r\n');
    expect(text(mtSics.listCommands())).toBe('I0\r\n');
    expect(text(mtSics.level())).toBe('I1\r\n');
    expect(text(mtSics.balanceData())).toBe('I2\r\n');
    expect(text(mtSics.softwareVersion())).toBe('I3\r\n');
    expect(text(mtSics.serialNumber())).toBe('I4\r\n');
    expect(Array.from(mtSics.stableWeight())).toEqual([0x53, 0x0d, 0x0a]);
  });

  it('quotes text parameters and rejects parameters that would break the line', () => {
    expect(text(mtSicsCommand('D', { text: 'Hello scale' }))).toBe('D "Hello scale"\r\n');
    for (const bad of [
      () => mtSicsCommand('s'),
      () => mtSicsCommand(''),
      () => mtSicsCommand('D', 'two words'),
      () => mtSicsCommand('D', 'a"b'),
      () => mtSicsCommand('D', { text: 'line\r\nbreak' }),
      () => mtSicsCommand('D', { text: 'a"b' }),
      () => mtSicsCommand('TA', Number.NaN),
    ]) {
      expect(bad).toThrow(ProtocolError);
    }
    try {
      mtSicsCommand('D', 'two words');
    } catch (e) {
      expect((e as ProtocolError).code).toBe('SG_ERR_PROTO_ARGUMENT');
    }
  });
});
