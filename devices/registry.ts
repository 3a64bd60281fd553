import type { Driver } from './driver.js';
import { ScannerDriver } from './scanner/scanner.js';
import { parseTransportUri, type Transport } from './transport.js';
import { SerialTransport, serialSettingsFromParams } from './serial.js';
import { memoryDeviceEnd } from './memory.js';

/** Driver factories by name (`--device NAME=DRIVER@URI`). */
export const drivers: Record<string, () => Driver> = {
  scanner: () => new ScannerDriver(),
};

export interface DeviceSpec {
  name: string;
  driver: string;
  uri: string;
}

/** Parse `NAME=DRIVER@URI`; throws a coded error naming the part that is wrong. */
export function parseDeviceSpec(spec: string): DeviceSpec {
  const m = /^([A-Za-z0-9][A-Za-z0-9._-]{0,63})=([a-z0-9-]+)@(.+)$/.exec(spec);
  if (!m) {
    throw Object.assign(new Error(`device '${spec}': expected NAME=DRIVER@URI, e.g. dock1=scanner@serial:///dev/ttyACM0?baudRate=9600`), {
      code: 'SG_ERR_DEVICE_SPEC',
    });
  }
  const [, name, driver, uri] = m as unknown as [string, string, string, string];
  if (!drivers[driver]) {
    throw Object.assign(new Error(`device '${name}': unknown driver '${driver}' (known: ${Object.keys(drivers).join(', ')})`), {
      code: 'SG_ERR_DEVICE_SPEC',
    });
  }
  parseTransportUri(uri); // validate now, at start, not on first open
  return { name, driver, uri };
}

/** Build the transport a URI names. Only serial and memory exist so far. */
export function createTransport(uri: string, defaults: Driver['profile']['line'] = {}): Transport {
  const u = parseTransportUri(uri);
  switch (u.scheme) {
    case 'serial':
      return new SerialTransport({ ...defaults, ...serialSettingsFromParams(u.target, u.params) });
    case 'memory':
      return memoryDeviceEnd(u.target);
    default:
      throw Object.assign(new Error(`device uri '${uri}': the ${u.scheme}:// transport is not available yet`), { code: 'SG_ERR_DEVICE_URI' });
  }
}
