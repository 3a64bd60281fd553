import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import type { Reading } from '../../devices/driver.js';
import { createDevice, parseDeviceSpec } from '../../devices/registry.js';
import { SerialTransport } from '../../devices/serial.js';
import { decodeEpc } from '../../protocols/rfid/epc.js';
import { runStockgate, tempDir, waitFor } from '../helpers/procs.js';
import { startCli } from './cli-proc.js';

/** `stockgate simulate scale|rfid` on real ptys, read by the real drivers. */
describe('stockgate simulate', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  async function simulator(args: string[]) {
    const link = join(tempDir('sg-sim-'), 'tty');
    const p = startCli(['simulate', ...args, '--link', link]);
    cleanup.push(() => p.kill());
    const ready = await p.line((l) => l.event === 'ready', 'simulator ready');
    return { p, link, ready };
  }

  async function readWith(spec: string, until: (rs: Reading[]) => boolean, what: string): Promise<Reading[]> {
    const dev = createDevice(parseDeviceSpec(spec), { reopenMinMs: 50 });
    const rs: Reading[] = [];
    dev.on('reading', (r) => rs.push(r));
    dev.start();
    try {
      await waitFor(() => until(rs), what);
    } finally {
      await dev.stop();
    }
    return rs;
  }

  it('scale --protocol mt-sics answers MT-SICS commands on the pty', async () => {
    const { link, ready } = await simulator(['scale', '--protocol', 'mt-sics', '--weight-kg', '2.5']);
    expect(ready).toMatchObject({ simulator: 'scale', protocol: 'mt-sics', link });
    const port = new SerialTransport({ path: link });
    let text = '';
    port.onData((b) => (text += Buffer.from(b).toString('latin1')));
    await port.open();
    cleanup.push(() => port.close());
    await port.write(Buffer.from('SI\r\nT\r\nSI\r\n@\r\nBOGUS\r\n'));
    await waitFor(() => text.split('\r\n').length >= 6, 'five replies');
    expect(text.split('\r\n').slice(0, 5)).toEqual(['S S      2.500 kg', 'T S      2.500 kg', 'S S      0.000 kg', 'I4 A "0123456789"', 'ES']);
  });

  it('scale --script plays placements (settling, then stable) for the scale-mt-sics driver', async () => {
    const script = join(tempDir('sg-script-'), 'placements.json');
    writeFileSync(script, JSON.stringify([{ atMs: 300, kg: 12.5 }]));
    const { link } = await simulator(['scale', '--script', script, '--settle-ms', '300', '--division-kg', '0.005']);
    const rs = await readWith(
      `s=scale-mt-sics@serial://${link}?intervalMs=50`,
      (r) => r.some((x) => x.kind === 'weight' && x.weightKg === 12.5 && x.stable === true),
      'stable 12.5 kg',
    );
    const weights = rs.filter((r) => r.kind === 'weight');
    expect(weights[0]).toMatchObject({ weightKg: 0, stable: true });
    expect(weights.some((w) => w.stable === false)).toBe(true);
  });

  for (const [protocol, variant, driver] of [
    ['toledo', undefined, 'scale-toledo'],
    ['ascii', 'cas', 'scale-ascii'],
    ['xk3190', 'reversed', 'scale-xk3190'],
  ] as const) {
    it(`scale --protocol ${protocol}${variant ? ` --variant ${variant}` : ''} streams frames the ${driver} driver decodes`, async () => {
      const { link } = await simulator(['scale', '--protocol', protocol, ...(variant ? ['--variant', variant] : []), '--weight-kg', '15.5', '--division-kg', '0.1', '--rate-ms', '30']);
      await readWith(`s=${driver}@serial://${link}`, (r) => r.filter((x) => x.kind === 'weight' && x.weightKg === 15.5).length >= 3, '15.5 kg frames');
    });
  }

  it('rfid --protocol uhfreader18 answers inventory polls with SGTIN-96 tags on two antennas', async () => {
    const { link, ready } = await simulator(['rfid', '--protocol', 'uhfreader18', '--tags', '2', '--gtin', '80614141123458']);
    expect(ready.epcs).toHaveLength(2);
    expect(decodeEpc(ready.epcs[0])).toMatchObject({ scheme: 'sgtin-96', gtin: '80614141123458', serial: '1001' });
    const rs = await readWith(`p=rfid-uhfreader18@serial://${link}?intervalMs=50`, (r) => r.filter((x) => x.kind === 'tag').length >= 6, 'tags');
    const tags = rs.filter((r) => r.kind === 'tag');
    expect(new Set(tags.map((t) => t.epc))).toEqual(new Set(ready.epcs));
    expect(new Set(tags.map((t) => t.antenna))).toEqual(new Set([1, 2]));
  });

  it('rfid --protocol m100 streams tag notices for the given EPCs during multi-poll', async () => {
    const epc = '3034F4E4E4424C800012D687';
    const { link } = await simulator(['rfid', '--protocol', 'm100', '--epc', epc, '--rssi', '-61', '--repeats', '2']);
    const rs = await readWith(`p=rfid-m100@serial://${link}`, (r) => r.filter((x) => x.kind === 'tag').length >= 4, 'notices');
    const t = rs.find((r) => r.kind === 'tag');
    expect(t).toMatchObject({ epc, antenna: 1 });
    expect(Math.abs((t as { rssi: number }).rssi + 61)).toBeLessThanOrEqual(2);
  });

  it('names a bad flag (exit 2)', () => {
    const run = (args: string[]) => runStockgate(['simulate', ...args]);
    const a = run(['scale', '--protocol', 'bogus', '--link', '/tmp/x']);
    expect(a.status).toBe(2);
    expect(a.stderr).toMatch(/SG_ERR_CONFIG: --protocol: 'bogus'/);
    const b = run(['scale', '--protocol', 'xk3190', '--variant', 'cas', '--link', join(tempDir(), 'tty')]);
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/variant 'cas' does not belong to protocol xk3190/);
    const c = run(['rfid', '--epc', 'XYZ', '--link', '/tmp/x']);
    expect(c.status).toBe(2);
    expect(c.stderr).toMatch(/--epc: 'XYZ'/);
    const d = run(['scale', '--script', '100:1,oops', '--link', '/tmp/x']);
    expect(d.status).toBe(2);
    expect(d.stderr).toMatch(/--script: item 2 'oops'/);
  });
});
