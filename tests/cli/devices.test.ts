import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openPtyPair, type PtyPair } from '../../devices/pty-pair.js';
import { SerialTransport } from '../../devices/serial.js';
import { parseHexCapture } from '../../protocols/framing/capture.js';
import { runStockgate, tempDir, waitFor } from '../helpers/procs.js';
import { CAPTURES } from '../helpers/replay.js';
import { startCli, type CliProc } from './cli-proc.js';

function run(args: string[], env: Record<string, string> = {}) {
  return runStockgate(args, env);
}
const jsonLines = (s: string) => s.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);

describe('stockgate devices', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  it('--help lists the subcommands; the top-level help lists devices', () => {
    const r = run(['devices', '--help']);
    expect(r.status).toBe(0);
    for (const c of ['list', 'drivers', 'sniff', 'record', 'replay']) expect(r.stdout).toMatch(new RegExp(`^\\s+${c}\\b`, 'm'));
    expect(run(['--help']).stdout).toMatch(/^\s+devices\b/m);
  });

  it('list prints {"serial":[...],"hid":[...]} and exits 0', () => {
    const r = run(['devices', 'list']);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Array.isArray(out.serial)).toBe(true);
    expect(Array.isArray(out.hid)).toBe(true);
    for (const p of out.serial) expect(p.uri).toMatch(/^serial:\/\//);
  });

  it('list never crashes without udevadm: it falls back to /dev and says so', () => {
    const r = run(['devices', 'list'], { PATH: '' });
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ serial: expect.any(Array), hid: expect.any(Array) });
    expect(out.notes.join('\n')).toMatch(/serial: the port enumeration failed \(spawn udevadm ENOENT\)/);
  });

  it('drivers prints every profile', () => {
    const r = run(['devices', 'drivers']);
    expect(r.status).toBe(0);
    const p = JSON.parse(r.stdout);
    expect(Object.keys(p)).toEqual(expect.arrayContaining(['scanner', 'scanner-hid', 'scale-mt-sics', 'scale-toledo', 'scale-ascii', 'scale-xk3190', 'rfid-uhfreader18', 'rfid-m100']));
    expect(p['scale-mt-sics'].params.intervalMs.default).toBe(200);
  });

  it('replay feeds a capture through a driver and prints readings, then a summary', () => {
    const r = run(['devices', 'replay', '--file', join(CAPTURES, 'rfid/uhfreader18-stream-bad-crc.hex'), '--driver', 'rfid-uhfreader18']);
    expect(r.status).toBe(0);
    const lines = jsonLines(r.stdout);
    expect(lines.filter((l) => l.kind === 'tag').map((l) => l.epc)).toEqual(['E28068940000500A9D2298C6', '000000000000000000000313']);
    expect(lines.at(-1)).toMatchObject({ event: 'done', readings: 2, droppedFrames: 1 });

    const t = run(['devices', 'replay', '--file', join(CAPTURES, 'scale/toledo-12.50kg-nochk.hex'), '--driver', 'scale-toledo?checksum=false']);
    expect(jsonLines(t.stdout)[0]).toMatchObject({ kind: 'weight', weightKg: 12.5, stable: true });
  });

  it('replay names a bad driver or file (exit 2, coded JSON error)', () => {
    const a = run(['devices', 'replay', '--file', join(CAPTURES, 'scale/mt-sics-s.hex'), '--driver', 'toaster']);
    expect(a.status).toBe(2);
    expect(JSON.parse(a.stderr).error).toMatchObject({ code: 'SG_ERR_DEVICE_SPEC' });
    const b = run(['devices', 'replay', '--file', join(CAPTURES, 'scale/mt-sics-s.hex'), '--driver', 'scale-mt-sics?mode=fast']);
    expect(b.status).toBe(2);
    expect(JSON.parse(b.stderr).error).toMatchObject({ code: 'SG_ERR_DEVICE_URI', message: expect.stringContaining('mode=fast') });
  });

  describe('on a real pty', () => {
    let pty: PtyPair;
    let peer: SerialTransport;
    beforeAll(async () => {
      pty = await openPtyPair(join(tempDir('sg-cli-dev-'), 'ttyScanner'));
      peer = new SerialTransport({ path: pty.peerPath });
      await peer.open();
      cleanup.push(() => pty.close(), () => peer.close());
    });

    it('sniff prints decoded readings live as JSON lines', async () => {
      const p: CliProc = startCli(['devices', 'sniff', '--device', `dock1=scanner@serial://${pty.devicePath}`, '--count', '2']);
      cleanup.push(() => p.kill());
      await p.line((l) => l.event === 'state' && l.state === 'connected', 'connected');
      await peer.write(Buffer.from(']C1010950600013435210LOT7\r\nQTY:3\n'));
      expect(await p.exited).toBe(0);
      const readings = p.lines.filter((l) => l.kind);
      expect(readings).toMatchObject([
        { device: 'dock1', kind: 'scan', aim: ']C1', data: '010950600013435210LOT7', raw: ']C1010950600013435210LOT7' },
        { device: 'dock1', kind: 'scan', data: 'QTY:3' },
      ]);
      expect(p.lines[0]).toMatchObject({ event: 'ready', command: 'sniff', devices: [{ name: 'dock1', driver: 'scanner' }] });
    });

    it('record saves the raw bytes as a hex capture with timestamps; replay gives the readings back', async () => {
      const out = join(tempDir('sg-rec-'), 'dock.hex');
      const p = startCli(['devices', 'record', '--device', `dock1=scanner@serial://${pty.devicePath}`, '--out', out]);
      cleanup.push(() => p.kill());
      await p.line((l) => l.event === 'state' && l.state === 'connected', 'connected');
      const sent = Buffer.from('SKU-1\r\n]E05901234123457\r\n');
      await peer.write(sent.subarray(0, 9));
      await waitFor(() => parseHexCapture(readFileSync(out, 'utf8')).length === 9, 'first chunk on disk');
      await peer.write(sent.subarray(9));
      await waitFor(() => parseHexCapture(readFileSync(out, 'utf8')).length === sent.length, 'all bytes on disk');
      expect(await p.kill('SIGTERM')).toBe(0);
      expect(p.lines.at(-1)).toMatchObject({ event: 'recorded', file: out, bytes: sent.length });
      const text = readFileSync(out, 'utf8');
      expect(Buffer.from(parseHexCapture(text))).toEqual(sent);
      expect(text).toMatch(/^# stockgate devices record$/m);
      expect(text).toMatch(/^# device: dock1=scanner@serial:\/\//m);
      expect(text).toMatch(/^# \+\d+ ms \d{4}-\d\d-\d\dT/m);

      const r = run(['devices', 'replay', '--file', out, '--driver', 'scanner']);
      expect(jsonLines(r.stdout).filter((l) => l.kind).map((l) => l.data)).toEqual(['SKU-1', '5901234123457']);
    });
  });

  it('record runs the driver, so a polled scale is polled: record against `simulate scale`, then replay', async () => {
    const dir = tempDir('sg-rec-scale-');
    const link = join(dir, 'ttyScale');
    const sim = startCli(['simulate', 'scale', '--protocol', 'mt-sics', '--link', link, '--weight-kg', '7.25']);
    cleanup.push(() => sim.kill());
    await sim.line((l) => l.event === 'ready', 'simulator ready');
    const out = join(dir, 'scale.hex');
    const rec = startCli(['devices', 'record', '--device', `s1=scale-mt-sics@serial://${link}?intervalMs=50`, '--out', out]);
    cleanup.push(() => rec.kill());
    await waitFor(() => (readFileSync(out, 'utf8').match(/^# tx .*: 53 49 0D 0A$/gm) ?? []).length >= 3, 'SI polls recorded as # tx comments');
    expect(await rec.kill()).toBe(0);
    const r = run(['devices', 'replay', '--file', out, '--driver', 'scale-mt-sics']);
    const weights = jsonLines(r.stdout).filter((l) => l.kind === 'weight');
    expect(weights.length).toBeGreaterThanOrEqual(2);
    expect(weights.every((w) => w.weightKg === 7.25 && w.stable === true)).toBe(true);
  });
});
