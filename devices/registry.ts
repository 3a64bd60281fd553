import type { DeviceProfile, Driver } from './driver.js';
import { Device, type DeviceOptions } from './device.js';
import { ScannerDriver, scannerProfile } from './scanner/scanner.js';
import { ScannerHidDriver, scannerHidProfile } from './scanner-hid/scanner-hid.js';
import { ScaleMtSicsDriver, scaleMtSicsProfile } from './scale-mt-sics/scale-mt-sics.js';
import { ScaleToledoDriver, scaleToledoProfile } from './scale-toledo/scale-toledo.js';
import { ScaleAsciiDriver, scaleAsciiProfile } from './scale-ascii/scale-ascii.js';
import { ScaleXk3190Driver, scaleXk3190Profile } from './scale-xk3190/scale-xk3190.js';
import { RfidUhfReader18Driver, rfidUhfReader18Profile } from './rfid-uhfreader18/rfid-uhfreader18.js';
import { RfidM100Driver, rfidM100Profile } from './rfid-m100/rfid-m100.js';
import { parseTransportUri, type Transport } from './transport.js';
import { SerialTransport, serialSettingsFromParams } from './serial.js';
import { TcpTransport, tcpSettingsFromUri } from './tcp.js';
import { HidTransport, hidSettingsFromUri } from './hid.js';
import { memoryDeviceEnd } from './memory.js';
import { resolveParams } from './params.js';

/** A driver factory; `params` are the driver's own URI parameters (see its profile). */
export type DriverFactory = (params?: Record<string, string>) => Driver;

/** Driver factories by name (`--device NAME=DRIVER@URI`). */
export const drivers: Record<string, DriverFactory> = {
  scanner: (p) => new ScannerDriver(p),
  'scanner-hid': (p) => new ScannerHidDriver(p),
  'scale-mt-sics': (p) => new ScaleMtSicsDriver(p),
  'scale-toledo': (p) => new ScaleToledoDriver(p),
  'scale-ascii': (p) => new ScaleAsciiDriver(p),
  'scale-xk3190': (p) => new ScaleXk3190Driver(p),
  'rfid-uhfreader18': (p) => new RfidUhfReader18Driver(p),
  'rfid-m100': (p) => new RfidM100Driver(p),
};

/** The declarative profile of every driver, by name (what it reads, units, line settings, parameters). */
export const profiles: Record<string, DeviceProfile> = {
  scanner: scannerProfile,
  'scanner-hid': scannerHidProfile,
  'scale-mt-sics': scaleMtSicsProfile,
  'scale-toledo': scaleToledoProfile,
  'scale-ascii': scaleAsciiProfile,
  'scale-xk3190': scaleXk3190Profile,
  'rfid-uhfreader18': rfidUhfReader18Profile,
  'rfid-m100': rfidM100Profile,
};

export interface DeviceSpec {
  name: string;
  driver: string;
  /** The URI as configured, driver parameters included. */
  uri: string;
  /** The URI without the driver's parameters: what the transport is built from. */
  transportUri: string;
  /** The driver's own URI parameters (e.g. `mode`, `intervalMs`), as given. */
  params: Record<string, string>;
}

const specError = (message: string) => Object.assign(new Error(message), { code: 'SG_ERR_DEVICE_SPEC' });

/** Split a URI's query between the driver's parameters (named in its profile) and the transport's. */
function splitUri(uri: string, profile: DeviceProfile): { transportUri: string; params: Record<string, string> } {
  const q = uri.indexOf('?');
  if (q < 0) return { transportUri: uri, params: {} };
  const own = new Set(Object.keys(profile.params ?? {}));
  const params: Record<string, string> = {};
  const rest = new URLSearchParams();
  for (const [k, v] of new URLSearchParams(uri.slice(q + 1))) {
    if (own.has(k)) params[k] = v;
    else rest.append(k, v);
  }
  const r = rest.toString();
  return { transportUri: uri.slice(0, q) + (r ? `?${r}` : ''), params };
}

/**
 * Parse `NAME=DRIVER@URI`; throws a coded error naming the part that is wrong. Driver parameters
 * and transport parameters share the URI's query (`scanner-hid@hid://0c2e:0b61?mode=pos&serial=X`)
 * and are both validated here, at start, not on first open.
 */
export function parseDeviceSpec(spec: string): DeviceSpec {
  const m = /^([A-Za-z0-9][A-Za-z0-9._-]{0,63})=([a-z0-9-]+)@(.+)$/.exec(spec);
  if (!m) throw specError(`device '${spec}': expected NAME=DRIVER@URI, e.g. dock1=scanner@serial:///dev/ttyACM0?baudRate=9600`);
  const [, name, driver, uri] = m as unknown as [string, string, string, string];
  const profile = profiles[driver];
  if (!profile || !drivers[driver]) throw specError(`device '${name}': unknown driver '${driver}' (known: ${Object.keys(drivers).join(', ')})`);
  const { transportUri, params } = splitUri(uri, profile);
  resolveParams(profile, params);
  createTransport(transportUri, profile.line, { dryRun: true, strict: true });
  return { name, driver, uri, transportUri, params };
}

/** The driver a spec names, with its URI parameters. */
export function createDriver(spec: Pick<DeviceSpec, 'driver' | 'params'>): Driver {
  const factory = drivers[spec.driver];
  if (!factory) throw specError(`unknown driver '${spec.driver}' (known: ${Object.keys(drivers).join(', ')})`);
  return factory(spec.params);
}

/** Names of every driver's URI parameters: stripped by `createTransport` when given a full URI. */
const DRIVER_PARAM_NAMES = new Set(Object.values(profiles).flatMap((p) => Object.keys(p.params ?? {})));

/**
 * Build the transport a URI names, by scheme: `serial://PATH?baudRate=&dataBits=&parity=&stopBits=`,
 * `tcp://HOST:PORT`, `hid://VID:PID[?serial=&interface=]`, `memory://NAME`. `defaults` are the
 * driver profile's line settings (the URI wins). Driver parameters left in the URI are ignored
 * here (`parseDeviceSpec` validated them), unless `strict` (the URI must hold transport
 * parameters only). With `dryRun` it only validates.
 */
export function createTransport(uri: string, defaults: DeviceProfile['line'] = {}, opts: { dryRun?: boolean; strict?: boolean } = {}): Transport {
  const u = parseTransportUri(uri);
  const params = opts.strict ? u.params : Object.fromEntries(Object.entries(u.params).filter(([k]) => !DRIVER_PARAM_NAMES.has(k)));
  const dry = undefined as unknown as Transport;
  switch (u.scheme) {
    case 'serial': {
      const s = { ...defaults, ...serialSettingsFromParams(u.target, params) };
      return opts.dryRun ? dry : new SerialTransport(s);
    }
    case 'tcp': {
      const s = tcpSettingsFromUri(u.target, params);
      return opts.dryRun ? dry : new TcpTransport(s);
    }
    case 'hid': {
      const s = hidSettingsFromUri(u.target, params);
      return opts.dryRun ? dry : new HidTransport(s);
    }
    case 'memory':
      return opts.dryRun ? dry : memoryDeviceEnd(u.target);
  }
}

/** Driver + transport + runner for a spec: what `stockgate edge` and `devices sniff` run. */
export function createDevice(spec: DeviceSpec, opts: DeviceOptions = {}): Device {
  const driver = createDriver(spec);
  return new Device(spec.name, driver, createTransport(spec.transportUri, driver.profile.line, { strict: true }), opts);
}
