import type { Transport } from './transport.js';
import { uriError } from './params.js';

/**
 * USB HID devices (HID-POS and keyboard-wedge barcode scanners) through node-hid, the whole of HID
 * I/O in this project. node-hid is an optional dependency loaded lazily (`await import`), so a
 * machine without it (or without libudev/libusb) runs everything else; opening an `hid://` device
 * there fails with SG_ERR_HID_UNAVAILABLE. Pitfalls (device-protocols.md "node-hid pitfalls"):
 * Linux needs udev rules for hidraw (deploy/udev/99-stockgate.rules); node-hid has no plug events,
 * an unplug shows up as an `error` ("could not read from HID device"), which closes the link
 * here so the device runner reopens it with backoff.
 */

/** What we use of a node-hid device listing entry. */
export interface HidDeviceInfo {
  vendorId: number;
  productId: number;
  path?: string;
  serialNumber?: string;
  manufacturer?: string;
  product?: string;
  interface?: number;
  usagePage?: number;
  usage?: number;
}

/** What we use of an open node-hid `HIDAsync` handle. */
export interface HidHandle {
  on(event: 'data', cb: (data: Buffer) => void): unknown;
  on(event: 'error', cb: (err: Error) => void): unknown;
  removeAllListeners(): unknown;
  write(values: number[] | Buffer): Promise<number>;
  sendFeatureReport(data: number[] | Buffer): Promise<number>;
  close(): Promise<void>;
}

/** What we use of the node-hid module (v3): listing and `HIDAsync.open(path)`. */
export interface HidModule {
  devicesAsync(): Promise<HidDeviceInfo[]>;
  HIDAsync: { open(path: string): Promise<HidHandle> };
}

export type HidLoader = () => Promise<HidModule>;

/**
 * Load node-hid, or throw SG_ERR_HID_UNAVAILABLE saying why. The only place node-hid is imported.
 * `name` exists for tests (a module that is not installed).
 */
export const loadNodeHid = async (name = 'node-hid'): Promise<HidModule> => {
  // A variable specifier keeps TypeScript from requiring the optional package at build time.
  try {
    const m = (await import(name)) as HidModule & { default?: HidModule };
    const mod = m.default && typeof m.default.devicesAsync === 'function' ? m.default : m;
    if (typeof mod.devicesAsync !== 'function') throw new Error('node-hid has no devicesAsync (version 3 or later is needed)');
    return mod;
  } catch (err) {
    throw Object.assign(
      new Error(`HID is unavailable: ${name} could not be loaded (${(err as Error).message}); install it with \`npm install node-hid\` (needs libudev on Linux)`),
      { code: 'SG_ERR_HID_UNAVAILABLE', cause: err },
    );
  }
};

/** `hid://VID:PID[?serial=...&interface=N]`: which USB HID device to open. */
export interface HidSettings {
  vendorId: number;
  productId: number;
  /** USB serial number, to tell two scanners of the same model apart. */
  serial?: string;
  /** USB interface number, for composite devices (a scanner exposing keyboard and HID-POS). */
  interface?: number;
}

/** Parse `VID:PID` (hex, as lsusb prints it) and the parameters `serial`, `interface`. */
export function hidSettingsFromUri(target: string, params: Record<string, string>): HidSettings {
  const m = /^([0-9a-fA-F]{4}):([0-9a-fA-F]{4})$/.exec(target);
  if (!m) throw uriError(`hid ${target}: expected VID:PID as 4 hex digits each, e.g. hid://0c2e:0b61`);
  const s: HidSettings = { vendorId: parseInt(m[1]!, 16), productId: parseInt(m[2]!, 16) };
  for (const [k, v] of Object.entries(params)) {
    if (k === 'serial') s.serial = v;
    else if (k === 'interface' && /^\d{1,2}$/.test(v)) s.interface = Number(v);
    else throw uriError(`hid ${target}: bad parameter '${k}=${v}' (serial=..., interface=N)`);
  }
  return s;
}

const hex4 = (n: number) => n.toString(16).padStart(4, '0');

/** List HID devices; throws SG_ERR_HID_UNAVAILABLE when node-hid cannot be loaded. */
export async function listHidDevices(load: HidLoader = () => loadNodeHid()): Promise<HidDeviceInfo[]> {
  return (await load()).devicesAsync();
}

/**
 * One HID device as a Transport: `data` events are input reports (report ID in byte 0 when the
 * device numbers its reports, as HID-POS scanners do), `write` sends an output report (byte 0 must
 * be the report ID or 0x00, node-hid#187), `sendFeatureReport` a feature report.
 */
export class HidTransport implements Transport {
  readonly uri: string;
  private handle: HidHandle | undefined;
  private dataCb: ((b: Uint8Array) => void) | undefined;
  private closeCb: ((err?: Error & { disconnected?: boolean }) => void) | undefined;

  constructor(
    private readonly settings: HidSettings,
    private readonly load: HidLoader = () => loadNodeHid(),
  ) {
    const q = [settings.serial !== undefined && `serial=${settings.serial}`, settings.interface !== undefined && `interface=${settings.interface}`].filter(Boolean);
    this.uri = `hid://${hex4(settings.vendorId)}:${hex4(settings.productId)}${q.length ? `?${q.join('&')}` : ''}`;
  }

  async open(): Promise<void> {
    await this.close();
    const hid = await this.load();
    const { vendorId, productId, serial } = this.settings;
    const found = (await hid.devicesAsync()).filter(
      (d) =>
        d.vendorId === vendorId &&
        d.productId === productId &&
        (serial === undefined || d.serialNumber === serial) &&
        (this.settings.interface === undefined || d.interface === this.settings.interface) &&
        d.path,
    );
    if (found.length === 0) {
      throw Object.assign(new Error(`${this.uri}: no such HID device is plugged in`), { code: 'SG_ERR_DEVICE_NOT_FOUND' });
    }
    const handle = await hid.HIDAsync.open(found[0]!.path!);
    this.handle = handle;
    handle.on('data', (b: Buffer) => this.dataCb?.(b));
    handle.on('error', (err: Error) => {
      // node-hid's only unplug signal. Close the handle, then report the link as gone.
      if (this.handle !== handle) return;
      this.handle = undefined;
      handle.removeAllListeners();
      void handle.close().catch(() => undefined);
      this.closeCb?.(Object.assign(new Error(`${this.uri}: ${err.message}`), { disconnected: true }));
    });
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (!this.handle) throw new Error(`${this.uri}: not open`);
    await this.handle.write(Buffer.from(bytes));
  }

  /** Send a feature report; byte 0 is the report ID (e.g. Honeywell's `0xFE, 0x01`). */
  async sendFeatureReport(bytes: Uint8Array): Promise<void> {
    if (!this.handle) throw new Error(`${this.uri}: not open`);
    await this.handle.sendFeatureReport(Buffer.from(bytes));
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    if (!handle) return;
    handle.removeAllListeners();
    await handle.close().catch(() => undefined);
    this.closeCb?.();
  }

  onData(cb: (bytes: Uint8Array) => void): void {
    this.dataCb = cb;
  }

  onClose(cb: (err?: Error & { disconnected?: boolean }) => void): void {
    this.closeCb = cb;
  }
}
