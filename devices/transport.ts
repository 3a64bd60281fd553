/**
 * A byte transport to one device: the only place device I/O happens (after node-serialport's
 * one-interface-per-binding and zigbee-herdsman's thin I/O files). Drivers see only this.
 * Implementations, chosen by URI scheme in `registry.ts` (after MQTT.js's one transport per
 * URL scheme): `serial.ts` (serialport), `tcp.ts` (node:net), `hid.ts` (node-hid, loaded
 * lazily), `memory.ts` (in-process, for tests and the fallback demo).
 */
export interface Transport {
  /** Stable identity for logs and health, e.g. `serial:///dev/serial/by-id/usb-...`. */
  readonly uri: string;
  open(): Promise<void>;
  write(bytes: Uint8Array): Promise<void>;
  close(): Promise<void>;
  /** Bytes as they arrive. */
  onData(cb: (bytes: Uint8Array) => void): void;
  /**
   * The link went away. `err.disconnected` is true for an unplug (serialport reports it only
   * while a read is pending, which `data` listeners keep).
   */
  onClose(cb: (err?: Error & { disconnected?: boolean }) => void): void;
  /** HID only: send a feature report, byte 0 = report ID. Absent on byte-stream links. */
  sendFeatureReport?(bytes: Uint8Array): Promise<void>;
}

export interface TransportUri {
  scheme: 'serial' | 'memory' | 'tcp' | 'hid';
  /** Path (serial), name (memory), host:port (tcp), vid:pid (hid). */
  target: string;
  params: Record<string, string>;
}

/** Parse `serial:///dev/ttyACM0?baudRate=9600`, `memory://name`, ...; throws a coded error. */
export function parseTransportUri(uri: string): TransportUri {
  const m = /^([a-z]+):\/\/([^?]*)(?:\?(.*))?$/.exec(uri);
  if (!m) throw Object.assign(new Error(`device uri '${uri}': expected scheme://target[?params]`), { code: 'SG_ERR_DEVICE_URI' });
  const scheme = m[1]!;
  if (!['serial', 'memory', 'tcp', 'hid'].includes(scheme)) {
    throw Object.assign(new Error(`device uri '${uri}': unknown scheme '${scheme}' (serial, memory, tcp, hid)`), { code: 'SG_ERR_DEVICE_URI' });
  }
  const target = decodeURIComponent(m[2]!);
  if (!target) throw Object.assign(new Error(`device uri '${uri}': empty target`), { code: 'SG_ERR_DEVICE_URI' });
  const params = Object.fromEntries(new URLSearchParams(m[3] ?? ''));
  return { scheme: scheme as TransportUri['scheme'], target, params };
}
