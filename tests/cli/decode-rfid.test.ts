import { describe, expect, it } from 'vitest';
import { runStockgate } from '../helpers/procs.js';
import { loadCapture, loadExpected } from '../helpers/replay.js';

/**
 * `stockgate decode epc|rfid` end to end: spawns the built CLI (`npm test` builds first; by hand:
 * `npx tsc -p tsconfig.build.json`) and checks stdout, stderr and exit codes.
 */
function run(...args: string[]) {
  const r = runStockgate(args);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const json = (s: string) => JSON.parse(s) as unknown;
const hexOf = (fixture: string) => Buffer.from(loadCapture(`rfid/${fixture}`)).toString('hex');

describe('stockgate decode epc', () => {
  it('prints the SGTIN-96 fields of the TDS example', () => {
    const r = run('decode', 'epc', '3074257BF7194E4000001A85');
    expect(r.code).toBe(0);
    expect(json(r.stdout)).toMatchObject({
      scheme: 'sgtin-96',
      tagUri: 'urn:epc:tag:sgtin-96:3.0614141.812345.6789',
      pureUri: 'urn:epc:id:sgtin:0614141.812345.6789',
      gtin: '80614141123458',
      serial: '6789',
      filter: 3,
    });
    expect(r.stderr).toBe('');
  });

  it('prints the SSCC of an SSCC-96 (with separators in the argument)', () => {
    // Extension 3, prefix 0614141 (partition 5), serial 123456789. Check digit by hand: weights 3,1 from
    // the right over 30614141123456789 sum to 149, so 1.
    const hex = (BigInt(0x31) << 88n) | (2n << 85n) | (5n << 82n) | (614141n << 58n) | (3123456789n << 24n);
    const spaced = hex.toString(16).toUpperCase().match(/../g)!.join(' ');
    const r = run('decode', 'epc', spaced);
    expect(r.code).toBe(0);
    expect(json(r.stdout)).toMatchObject({ scheme: 'sscc-96', sscc: '306141411234567891', filter: 2, pureUri: 'urn:epc:id:sscc:0614141.3123456789' });
  });

  it('prints a factory EPC as raw hex', () => {
    const r = run('decode', 'epc', 'e28068940000500a9d2298c6');
    expect(r.code).toBe(0);
    expect(json(r.stdout)).toEqual({ scheme: 'raw', hex: 'E28068940000500A9D2298C6' });
  });

  it('exits 2 with a JSON error for text that is not hex', () => {
    const r = run('decode', 'epc', '30G4');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(json(r.stderr)).toEqual({ error: { code: 'SG_ERR_PROTO_SYNTAX', message: expect.stringContaining("'G'") } });
  });
});

describe('stockgate decode rfid', () => {
  it.each([
    ['uhfreader18', 'uhfreader18-inventory-antenna-rssi.hex'],
    ['m100', 'm100-tag-notice-7e.hex'],
    ['r2000', 'r2000-realtime-inventory.hex'],
  ])('--protocol %s prints the frames of %s and {"dropped":0}', (protocol, fixture) => {
    const r = run('decode', 'rfid', '--protocol', protocol, '--hex', hexOf(fixture));
    expect(r.code).toBe(0);
    expect(json(r.stdout)).toEqual(loadExpected(`rfid/${fixture}`));
    expect(json(r.stderr)).toEqual({ dropped: 0 });
  });

  it('leaves out the frame with a bad CRC and reports {"dropped":1}', () => {
    const r = run('decode', 'rfid', '--protocol', 'uhfreader18', '--hex', hexOf('uhfreader18-stream-bad-crc.hex'));
    expect(r.code).toBe(0);
    expect(json(r.stdout)).toEqual(loadExpected('rfid/uhfreader18-stream-bad-crc.hex'));
    expect(json(r.stderr)).toEqual({ dropped: 1 });
  });

  it('decodes host commands with --direction host', () => {
    const r = run('decode', 'rfid', '--protocol', 'r2000', '--direction', 'host', '--hex', 'A0 04 01 89 01 D1');
    expect(r.code).toBe(0);
    expect(json(r.stdout)).toEqual([{ kind: 'command', cmd: 0x89, data: '01', reader: 1 }]);
  });

  it.each([
    [['--protocol', 'llrp', '--hex', '00'], 'SG_ERR_PROTO_UNKNOWN'],
    [['--protocol', 'm100', '--hex', 'BB0'], 'SG_ERR_BAD_HEX'],
    [['--protocol', 'm100', '--hex', 'BBXX'], 'SG_ERR_BAD_HEX'],
    [['--hex', '00'], 'SG_ERR_ARGUMENT'],
    [['--protocol', 'm100'], 'SG_ERR_ARGUMENT'],
    [['--protocol', 'm100', '--hex', '00', '--direction', 'up'], 'SG_ERR_ARGUMENT'],
  ])('exits 2 with a JSON error for %j', (args, code) => {
    const r = run('decode', 'rfid', ...args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(json(r.stderr)).toEqual({ error: { code, message: expect.any(String) } });
  });
});
