import { describe, expect, it } from 'vitest';
import { Device } from '../../../devices/device.js';
import type { Reading, ScanReading } from '../../../devices/driver.js';
import { HidTransport, type HidHandle, type HidModule } from '../../../devices/hid.js';
import { createDriver, parseDeviceSpec } from '../../../devices/registry.js';
import { ScannerHidDriver } from '../../../devices/scanner-hid/scanner-hid.js';
import type { Transport } from '../../../devices/transport.js';
import { loadCapture, loadExpected } from '../../helpers/replay.js';
import { waitFor } from '../../helpers/procs.js';

/**
 * No machine here has a USB HID scanner, so recorded reports go through a fake HID transport (the
 * seam is `devices/hid.ts`); everything above it (Device, driver, protocols/barcode) is real.
 */
class FakeHidTransport implements Transport {
  readonly uri = 'hid://0c2e:0b61';
  featureReports: number[][] = [];
  private dataCb: ((b: Uint8Array) => void) | undefined;
  private closeCb: ((err?: Error & { disconnected?: boolean }) => void) | undefined;
  async open(): Promise<void> {}
  async write(): Promise<void> {}
  async close(): Promise<void> {}
  async sendFeatureReport(bytes: Uint8Array): Promise<void> {
    this.featureReports.push([...bytes]);
  }
  onData(cb: (b: Uint8Array) => void): void {
    this.dataCb = cb;
  }
  onClose(cb: (err?: Error & { disconnected?: boolean }) => void): void {
    this.closeCb = cb;
  }
  /** Deliver a capture as node-hid does: one input report per `data` event. */
  feed(bytes: Uint8Array, reportLength: number): void {
    for (let i = 0; i < bytes.length; i += reportLength) this.dataCb?.(bytes.subarray(i, i + reportLength));
  }
  unplug(): void {
    this.closeCb?.(Object.assign(new Error('could not read from HID device'), { disconnected: true }));
  }
}

async function run(spec: string, capture: string, reportLength: number): Promise<{ scans: ScanReading[]; t: FakeHidTransport; dev: Device }> {
  const s = parseDeviceSpec(spec);
  const t = new FakeHidTransport();
  const dev = new Device(s.name, createDriver(s), t);
  const scans: ScanReading[] = [];
  dev.on('reading', (r: Reading) => r.kind === 'scan' && scans.push(r));
  dev.start();
  await waitFor(() => dev.currentState === 'connected', 'connected');
  t.feed(loadCapture(capture), reportLength);
  return { scans, t, dev };
}

describe('driver scanner-hid', () => {
  it('takes its mode and layout from the URI and validates them', () => {
    const d = createDriver(parseDeviceSpec('s=scanner-hid@hid://0c2e:0b61?mode=pos&layout=newland&serial=ABC'));
    expect(d).toBeInstanceOf(ScannerHidDriver);
    expect((d as ScannerHidDriver).layout).toBe('newland');
    expect(parseDeviceSpec('s=scanner-hid@hid://0c2e:0b61?mode=pos&serial=ABC')).toMatchObject({ transportUri: 'hid://0c2e:0b61?serial=ABC', params: { mode: 'pos' } });
    expect(() => parseDeviceSpec('s=scanner-hid@hid://0c2e:0b61?mode=serial')).toThrow(/mode=serial is not one of pos\|wedge/);
    expect(() => parseDeviceSpec('s=scanner-hid@hid://0c2e:0b61?layout=zebra')).toThrow(/layout=zebra/);
  });

  it('HID-POS, Honeywell layout: reassembles multi-report scans, keeps the AIM id, sends the HID-POS feature report', async () => {
    const { scans, t, dev } = await run('s=scanner-hid@hid://0c2e:0b61?mode=pos&layout=honeywell', 'barcode/honeywell-gs1-128.hex', 64);
    const expected = loadExpected<Array<{ text: string; aim: string }>>('barcode/honeywell-gs1-128.hex');
    await waitFor(() => scans.length === expected.length, 'scans');
    expect(scans.map((s) => [s.aim, s.data])).toEqual(expected.map((e) => [e.aim, e.text]));
    expect(scans[0]!.raw).toBe(`]C1${expected[0]!.text}`);
    expect(t.featureReports).toEqual([[0xfe, 0x01]]);
    // Unplug: the runner reports it and reopens; a reopen re-sends the feature report.
    t.unplug();
    await waitFor(() => dev.health().reconnects === 1 && dev.currentState === 'connected', 'reopened');
    expect(t.featureReports).toHaveLength(2);
    await dev.stop();
  });

  it('HID-POS, Newland layout', async () => {
    const { scans, t, dev } = await run('s=scanner-hid@hid://1eab:1d06?layout=newland', 'barcode/newland-gs1-datamatrix.hex', 64);
    const expected = loadExpected<Array<{ text: string; aim?: string }>>('barcode/newland-gs1-datamatrix.hex');
    await waitFor(() => scans.length === expected.length, 'scans');
    expect(scans.map((s) => s.data)).toEqual(expected.map((e) => e.text));
    expect(scans.map((s) => s.aim)).toEqual(expected.map((e) => e.aim));
    expect(t.featureReports).toEqual([]); // the Honeywell switch is not sent to a Newland
    await dev.stop();
  });

  it('keyboard wedge: boot reports typed back into scans (GS via Ctrl+], AIM id split off)', async () => {
    const { scans, dev } = await run('s=scanner-hid@hid://05e0:1200?mode=wedge', 'barcode/keyboard-wedge-us.hex', 8);
    const expected = loadExpected<string[]>('barcode/keyboard-wedge-us.hex');
    await waitFor(() => scans.length === expected.length, 'scans');
    expect(scans.map((s) => s.raw)).toEqual(expected);
    expect(scans[0]).toMatchObject({ aim: ']C1', data: expected[0]!.slice(3) });
    await dev.stop();
  });

  it('runs on the real HidTransport over a fake node-hid module (listing, open by path, data, unplug error)', async () => {
    const reports = loadCapture('barcode/honeywell-gs1-128.hex');
    const listeners: Record<string, (x: never) => void> = {};
    const handle: HidHandle = {
      on: (ev: string, cb: (x: never) => void) => (listeners[ev] = cb),
      removeAllListeners: () => undefined,
      write: async () => 0,
      sendFeatureReport: async () => 2,
      close: async () => undefined,
    };
    const opened: string[] = [];
    let plugged = true;
    const mod: HidModule = {
      devicesAsync: async () =>
        plugged
          ? [
              { vendorId: 0x0c2e, productId: 0x0b61, path: '/dev/hidraw1', serialNumber: 'OTHER', interface: 0 },
              { vendorId: 0x0c2e, productId: 0x0b61, path: '/dev/hidraw3', serialNumber: '21100B4A21', interface: 0 },
            ]
          : [],
      HIDAsync: { open: async (path: string) => (opened.push(path), handle) },
    };
    const t = new HidTransport({ vendorId: 0x0c2e, productId: 0x0b61, serial: '21100B4A21' }, async () => mod);
    expect(t.uri).toBe('hid://0c2e:0b61?serial=21100B4A21');
    const dev = new Device('s', new ScannerHidDriver({ mode: 'pos' }), t, { reopenMinMs: 20, reopenMaxMs: 100 });
    const scans: ScanReading[] = [];
    dev.on('reading', (r) => r.kind === 'scan' && scans.push(r));
    dev.start();
    await waitFor(() => dev.currentState === 'connected', 'connected');
    expect(opened).toEqual(['/dev/hidraw3']);
    for (let i = 0; i < reports.length; i += 64) (listeners.data as (b: Buffer) => void)(Buffer.from(reports.subarray(i, i + 64)));
    await waitFor(() => scans.length === 2, 'two scans');
    plugged = false;
    (listeners.error as (e: Error) => void)(new Error('could not read from HID device'));
    await waitFor(() => dev.currentState === 'disconnected', 'unplug seen');
    expect(dev.health().error).toMatch(/could not read from HID device|no such HID device/);
    plugged = true;
    await waitFor(() => dev.currentState === 'connected', 'replugged');
    expect(opened).toEqual(['/dev/hidraw3', '/dev/hidraw3']);
    await dev.stop();
  });
});
