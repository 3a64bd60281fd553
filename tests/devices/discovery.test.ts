import { describe, expect, it } from 'vitest';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listDevices } from '../../devices/discovery.js';
import { loadNodeHid, type HidModule } from '../../devices/hid.js';
import { tempDir } from '../helpers/procs.js';

/** A fake /dev with a by-id link, as udev makes them. */
function fakeDev(): string {
  const dev = tempDir('sg-dev-tree-');
  writeFileSync(join(dev, 'ttyACM0'), '');
  writeFileSync(join(dev, 'ttyUSB3'), '');
  writeFileSync(join(dev, 'ttyS0'), '');
  mkdirSync(join(dev, 'serial', 'by-id'), { recursive: true });
  symlinkSync('../../ttyACM0', join(dev, 'serial', 'by-id', 'usb-Honeywell_Imaging_1900_21100B4A21-if00'));
  return dev;
}

const noHid = () => loadNodeHid('node-hid-is-not-installed-here');

describe('devices list (discovery)', () => {
  it('falls back to /dev/serial/by-id and tty{USB,ACM}* when the enumeration fails (no udevadm)', async () => {
    const dev = fakeDev();
    const r = await listDevices({ devDir: dev, listSerial: () => Promise.reject(new Error('spawn udevadm ENOENT')), hidLoader: noHid });
    expect(r.serial).toEqual([
      { path: join(dev, 'ttyACM0'), byId: join(dev, 'serial/by-id/usb-Honeywell_Imaging_1900_21100B4A21-if00'), uri: `serial://${join(dev, 'serial/by-id/usb-Honeywell_Imaging_1900_21100B4A21-if00')}` },
      { path: join(dev, 'ttyUSB3'), uri: `serial://${join(dev, 'ttyUSB3')}` },
    ]);
    expect(r.hid).toEqual([]);
    expect(r.notes).toHaveLength(2);
    expect(r.notes![0]).toMatch(/spawn udevadm ENOENT/);
    expect(r.notes![1]).toMatch(/^hid: HID is unavailable/);
  });

  it('uses the enumeration when it works and still points at the by-id path', async () => {
    const dev = fakeDev();
    const r = await listDevices({
      devDir: dev,
      listSerial: async () => [{ path: join(dev, 'ttyACM0'), manufacturer: 'Honeywell', vendorId: '0c2e', productId: '0b61', serialNumber: '21100B4A21' }],
      hidLoader: async (): Promise<HidModule> => ({
        devicesAsync: async () => [
          { vendorId: 0x0c2e, productId: 0x0b61, path: '/dev/hidraw0', serialNumber: 'S1', usagePage: 0x8c, usage: 2, interface: 0 },
          { vendorId: 0x05e0, productId: 0x1200, path: '/dev/hidraw1', usagePage: 1, usage: 6 },
          { vendorId: 0x046d, productId: 0xc52b, path: '/dev/hidraw2', usagePage: 1, usage: 2 },
        ],
        HIDAsync: { open: () => Promise.reject(new Error('unused')) },
      }),
    });
    expect(r.notes).toBeUndefined();
    expect(r.serial[0]).toMatchObject({ path: join(dev, 'ttyACM0'), manufacturer: 'Honeywell', uri: expect.stringContaining('/serial/by-id/usb-Honeywell') });
    expect(r.hid.map((h) => [h.vendor, h.suggested])).toEqual([
      ['Honeywell', 'scanner-hid@hid://0c2e:0b61?mode=pos&serial=S1'],
      ['Zebra/Symbol', 'scanner-hid@hid://05e0:1200?mode=wedge'],
      [undefined, undefined],
    ]);
  });
});
