import { readdirSync, readlinkSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { listHidDevices, type HidDeviceInfo, type HidLoader } from './hid.js';

/** A serial port found on this machine. */
export interface SerialEntry {
  /** Kernel device, e.g. /dev/ttyACM0. */
  path: string;
  /** The stable /dev/serial/by-id symlink to it, when udev made one: configure this one. */
  byId?: string;
  manufacturer?: string;
  serialNumber?: string;
  vendorId?: string;
  productId?: string;
  /** The URI to configure (`serial://` + by-id path when there is one). */
  uri: string;
}

/** A HID device found on this machine. */
export interface HidEntry {
  vendorId: string;
  productId: string;
  path?: string;
  manufacturer?: string;
  product?: string;
  serialNumber?: string;
  interface?: number;
  usagePage?: number;
  /** Known scanner vendor by USB vendor ID. */
  vendor?: string;
  /** A device spec to start from, when the usage page says what it is. */
  suggested?: string;
}

export interface DeviceListing {
  serial: SerialEntry[];
  hid: HidEntry[];
  /** Why a list is empty or partial (no udev, no node-hid, ...); absent when all went well. */
  notes?: string[];
}

/** USB vendor IDs of the scanner makers udev rules are shipped for (deploy/udev/99-stockgate.rules). */
export const SCANNER_VENDORS: Readonly<Record<string, string>> = {
  '0c2e': 'Honeywell',
  '05e0': 'Zebra/Symbol',
  '05f9': 'Datalogic',
  '1eab': 'Newland',
};

export interface DiscoveryOptions {
  /** Enumerate serial ports (default serialport's `SerialPort.list()`, which runs udevadm on Linux). */
  listSerial?: () => Promise<Array<{ path: string; manufacturer?: string; serialNumber?: string; vendorId?: string; productId?: string }>>;
  /** Load node-hid (default: the lazy import in hid.ts). */
  hidLoader?: HidLoader;
  /** Root of the device tree. Default /dev. */
  devDir?: string;
}

/** /dev/serial/by-id links → the device each points at (absolute). */
function byIdLinks(devDir: string): Map<string, string> {
  const dir = join(devDir, 'serial', 'by-id');
  const out = new Map<string, string>();
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const n of names) {
    try {
      out.set(resolve(dirname(join(dir, n)), readlinkSync(join(dir, n))), join(dir, n));
    } catch {
      /* not a link */
    }
  }
  return out;
}

function serialEntry(path: string, byId: Map<string, string>, extra: Partial<SerialEntry> = {}): SerialEntry {
  const e: SerialEntry = { path, ...extra, uri: '' };
  const link = byId.get(path);
  if (link) e.byId = link;
  e.uri = `serial://${link ?? path}`;
  for (const k of Object.keys(e) as Array<keyof SerialEntry>) if (e[k] === undefined) delete e[k];
  return e;
}

/**
 * List serial ports and HID devices. Never throws: where udev is missing (`SerialPort.list()`
 * fails with `spawn udevadm ENOENT`) it reads /dev/serial/by-id and /dev/tty{USB,ACM}* itself;
 * where node-hid or libusb/libudev is missing the HID list is empty and a note says why.
 */
export async function listDevices(opts: DiscoveryOptions = {}): Promise<DeviceListing> {
  const devDir = opts.devDir ?? '/dev';
  const notes: string[] = [];
  const byId = byIdLinks(devDir);
  let serial: SerialEntry[];
  try {
    const ports = await (opts.listSerial ?? (async () => (await import('serialport')).SerialPort.list()))();
    serial = ports.map((p) =>
      serialEntry(p.path, byId, { manufacturer: p.manufacturer, serialNumber: p.serialNumber, vendorId: p.vendorId, productId: p.productId }),
    );
  } catch (err) {
    notes.push(`serial: the port enumeration failed (${(err as Error).message}); listed ${devDir}/serial/by-id and ${devDir}/tty{USB,ACM}* directly`);
    const paths = new Set<string>(byId.keys());
    try {
      for (const n of readdirSync(devDir)) if (/^tty(USB|ACM)\d+$/.test(n)) paths.add(join(devDir, n));
    } catch {
      /* no /dev to read */
    }
    serial = [...paths].sort().map((p) => serialEntry(p, byId));
  }
  let hid: HidEntry[] = [];
  try {
    const found = await listHidDevices(opts.hidLoader);
    hid = found.map(hidEntry);
  } catch (err) {
    notes.push(`hid: ${(err as Error).message}`);
  }
  const out: DeviceListing = { serial, hid };
  if (notes.length) out.notes = notes;
  return out;
}

const hex4 = (n: number) => n.toString(16).padStart(4, '0');

function hidEntry(d: HidDeviceInfo): HidEntry {
  const vendorId = hex4(d.vendorId);
  const productId = hex4(d.productId);
  const e: HidEntry = { vendorId, productId };
  if (d.path) e.path = d.path;
  if (d.manufacturer) e.manufacturer = d.manufacturer;
  if (d.product) e.product = d.product;
  if (d.serialNumber) e.serialNumber = d.serialNumber;
  if (d.interface !== undefined && d.interface >= 0) e.interface = d.interface;
  if (d.usagePage !== undefined) e.usagePage = d.usagePage;
  const vendor = SCANNER_VENDORS[vendorId];
  if (vendor) e.vendor = vendor;
  const q = d.serialNumber ? `&serial=${encodeURIComponent(d.serialNumber)}` : '';
  // HID-POS bar code scanner page 0x8C; Generic Desktop keyboard (page 1, usage 6) = wedge.
  if (d.usagePage === 0x8c) e.suggested = `scanner-hid@hid://${vendorId}:${productId}?mode=pos${q}`;
  else if (vendor && d.usagePage === 0x01 && d.usage === 0x06) e.suggested = `scanner-hid@hid://${vendorId}:${productId}?mode=wedge${q}`;
  return e;
}
