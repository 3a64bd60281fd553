import { describe, expect, it } from 'vitest';
import { runStockgate } from '../helpers/procs.js';
import { loadCapture, loadExpected } from '../helpers/replay.js';
import { decodeScale, unescapeText } from '../../cli/commands/decode-scale.js';
import { countByWeightFromFlags, FlagError } from '../../cli/commands/count-by-weight.js';

/**
 * `stockgate decode scale` and `stockgate count-by-weight` end to end: spawns the built CLI
 * (`npm test` builds first; by hand: `npx tsc -p tsconfig.build.json`) and checks stdout, stderr and
 * exit codes. The command logic is also exercised in-process below.
 */
function run(...args: string[]) {
  const r = runStockgate(args);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const json = (s: string) => JSON.parse(s) as unknown;
const hexOf = (fixture: string) => Buffer.from(loadCapture(`scale/${fixture}`)).toString('hex');

describe('stockgate decode scale', () => {
  it('decodes the MT-SICS manual example typed as text (CR LF appended)', () => {
    const r = run('decode', 'scale', '--protocol', 'mt-sics', 'S S     100.00 g');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('[{"kind":"weight","weight":100,"unit":"g","weightKg":0.1,"stable":true}]\n');
    expect(r.stderr).toBe('');
  });

  it('decodes an MT-SICS overload and several lines with escapes', () => {
    const r = run('decode', 'scale', '--protocol', 'mt-sics', 'S +\\r\\nZ A\\r\\nES');
    expect(r.code).toBe(0);
    expect(json(r.stdout)).toEqual([
      { kind: 'status', status: 'overload', command: 'S' },
      { kind: 'ack', command: 'Z' },
      { kind: 'status', status: 'syntax-error' },
    ]);
  });

  it('decodes the verified Toledo 12.50 kg frame from --hex, and from text with \\xNN escapes', () => {
    const want = loadExpected('scale/toledo-12.50kg-chk.hex');
    const hex = run('decode', 'scale', '--protocol', 'toledo', '--hex', '02 2C 30 20 30 30 31 32 35 30 30 30 30 30 30 30 0D 2D');
    expect(hex.code).toBe(0);
    expect(json(hex.stdout)).toEqual(want);
    const text = run('decode', 'scale', '--protocol', 'toledo', '\\x02,0 001250000000\\r-');
    expect(text.code).toBe(0);
    expect(json(text.stdout)).toEqual(want);
    // Without the checksum byte, 'auto' settles at the end of the input.
    const bare = run('decode', 'scale', '--protocol', 'toledo', '--hex', '022C3020303031323530303030303030 0D');
    expect(json(bare.stdout)).toEqual(want);
  });

  it('decodes each ASCII and XK3190 fixture given as hex', () => {
    for (const [protocol, fixture] of [
      ['ascii', 'ascii-and.hex'],
      ['ascii', 'ascii-cas.hex'],
      ['ascii', 'ascii-ohaus.hex'],
      ['ascii', 'ascii-yaohua-a12.hex'],
      ['xk3190', 'xk3190-tf0.hex'],
      ['xk3190', 'xk3190-reversed.hex'],
      ['xk3190', 'xk3190-order.hex'],
    ]) {
      const r = run('decode', 'scale', '--protocol', protocol!, '--hex', hexOf(fixture!));
      expect(r.code, fixture).toBe(0);
      expect(json(r.stdout), fixture).toEqual(loadExpected(`scale/${fixture}`));
    }
  });

  it('honours --unit for XK3190 and reports dropped input on stderr', () => {
    const unit = run('decode', 'scale', '--protocol', 'xk3190', '--unit', 't', '=000.3000');
    expect(json(unit.stdout)).toEqual([{ kind: 'weight', weight: 3, unit: 't', weightKg: 3000 }]);
    const noisy = run('decode', 'scale', '--protocol', 'mt-sics', 'garbage\\r\\nZ A');
    expect(noisy.code).toBe(0);
    expect(json(noisy.stdout)).toEqual([{ kind: 'ack', command: 'Z' }]);
    expect(json(noisy.stderr)).toEqual({ dropped: 1, droppedBytes: 0 });
  });

  it.each([
    [['--protocol', 'keli', 'x'], 'SG_ERR_PROTO_UNKNOWN'],
    [['--protocol', 'toledo', '--hex', '0G'], 'SG_ERR_BAD_HEX'],
    [['--protocol', 'toledo', '--hex', '021'], 'SG_ERR_BAD_HEX'],
    [['S S 1 g'], 'SG_ERR_ARGUMENT'],
    [['--protocol', 'mt-sics'], 'SG_ERR_ARGUMENT'],
    [['--protocol', 'toledo', '--checksum', 'maybe', 'x'], 'SG_ERR_ARGUMENT'],
  ])('exits 2 with a coded JSON error for %j', (args, code) => {
    const r = run('decode', 'scale', ...args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(json(r.stderr)).toEqual({ error: { code, message: expect.any(String) } });
  });
});

describe('stockgate count-by-weight', () => {
  it('prints pieces, APW, uncertainty and warnings as JSON numbers', () => {
    const r = run('count-by-weight', '--sample-kg', '0.02', '--sample-pieces', '10', '--net-kg', '2');
    expect(r.code).toBe(0);
    // sqrt(0.01^2 * (1000^2/10 + 1000)) = 3.18 (device-protocols.md: ~3.2 pieces)
    expect(r.stdout).toBe('{"pieces":1000,"apwKg":0.002,"uncertaintyPieces":3.18,"warnings":[]}\n');
  });

  it('applies --tare-kg and --resolution-kg and warns about a small sample', () => {
    const r = run('count-by-weight', '--sample-kg', '0.52', '--sample-pieces', '5', '--net-kg', '1.5', '--tare-kg', '0.5', '--resolution-kg', '0.001');
    expect(r.code).toBe(0);
    const out = json(r.stdout) as { pieces: number; apwKg: number; warnings: Array<{ code: string }> };
    expect(out.pieces).toBe(250);
    expect(out.apwKg).toBe(0.004);
    expect(out.warnings.map((w) => w.code)).toEqual(['sample-too-small']);
  });

  it.each([
    [['--sample-kg', 'abc', '--sample-pieces', '10', '--net-kg', '2'], '--sample-kg'],
    [['--sample-kg', '0.02', '--sample-pieces', '2.5', '--net-kg', '2'], '--sample-pieces'],
    [['--sample-kg', '0.02', '--sample-pieces', '10', '--net-kg', '-1'], '--net-kg'],
    [['--sample-kg', '0.02', '--sample-pieces', '10'], '--net-kg'],
    [['--sample-kg', '0.02', '--sample-pieces', '10', '--net-kg', '2', '--resolution-kg', '-0.1'], '--resolution-kg'],
    [['--sample-kg', '0.02', '--sample-pieces', '10', '--net-kg', '2', '--tare-kg', '1kg'], '--tare-kg'],
  ])('exits 2 naming the flag for %j', (args, flag) => {
    const r = run('count-by-weight', ...args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(json(r.stderr)).toEqual({ error: { code: 'SG_ERR_BAD_FLAG', message: expect.stringContaining(flag), flag } });
  });
});

describe('command logic in-process', () => {
  it('unescapeText: \\r \\n \\t \\\\ \\xNN, latin1 up to U+00FF, UTF-8 above, other backslashes kept', () => {
    expect(Array.from(unescapeText('a\\r\\n\\t\\\\\\x02\\xE4'))).toEqual([0x61, 0x0d, 0x0a, 0x09, 0x5c, 0x02, 0xe4]);
    expect(Array.from(unescapeText('ä€\\q\\x4'))).toEqual([0xe4, 0xe2, 0x82, 0xac, 0x5c, 0x71, 0x5c, 0x78, 0x34]);
    expect(Array.from(unescapeText('😀'))).toEqual([0xf0, 0x9f, 0x98, 0x80]);
  });

  it('decodeScale: line protocols get CR LF, binary ones do not; options pass through', () => {
    expect(decodeScale('S S     1.00 kg\\r\\n', { protocol: 'mt-sics' }).frames).toHaveLength(1);
    expect(decodeScale('ST,GS,+0012.34kg', { protocol: 'ascii' }).frames).toHaveLength(1);
    const t = decodeScale('022C3020303031323530303030303030 0D', { protocol: 'toledo', hex: true, checksum: 'true' });
    expect(t).toEqual({ frames: [], droppedBytes: 0, droppedFrames: 1 });
    expect(decodeScale('022C3020303031323530303030303030 0D', { protocol: 'toledo', hex: true, checksum: 'false' }).frames).toHaveLength(1);
    expect(() => decodeScale(undefined, { protocol: 'toledo' })).toThrow(/data/);
  });

  it('countByWeightFromFlags maps library field errors to flags', () => {
    expect(() => countByWeightFromFlags({ sampleKg: '0.1', samplePieces: '10', netKg: '1', pieceCv: '2' })).toThrow(FlagError);
    try {
      countByWeightFromFlags({ sampleKg: '0.1', samplePieces: '10', netKg: '1', capacityKg: '0' });
    } catch (e) {
      expect((e as FlagError).flag).toBe('--capacity-kg');
    }
    expect(countByWeightFromFlags({ sampleKg: '0.1', samplePieces: '10', netKg: '1', capacityKg: '100', pieceCv: '0' })).toEqual({
      pieces: 100,
      apwKg: 0.01,
      uncertaintyPieces: 0,
      warnings: [],
    });
  });
});
