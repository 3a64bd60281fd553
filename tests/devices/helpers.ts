import { join } from 'node:path';
import { Device } from '../../devices/device.js';
import type { Reading } from '../../devices/driver.js';
import { openPtyPair, type PtyPair } from '../../devices/pty-pair.js';
import { createDevice, parseDeviceSpec } from '../../devices/registry.js';
import { SerialTransport } from '../../devices/serial.js';
import { tapTransport } from '../../devices/tap.js';
import type { Transport } from '../../devices/transport.js';
import { tempDir, waitFor } from '../helpers/procs.js';

export { waitFor };

/** A driver on the device end of a real socat pty pair, with the peer end open for a simulator or a test. */
export interface PtyRig {
  pty: PtyPair;
  /** The far end: where a simulator or a recorded capture writes. */
  peer: SerialTransport;
  dev: Device;
  readings: Reading[];
  /** Bytes the driver wrote (what the peer received). */
  sent: () => Buffer;
  close(): Promise<void>;
}

/**
 * `driverAndQuery` is `DRIVER` or `DRIVER?params` (driver and line parameters); the device runs
 * through parseDeviceSpec → createDevice → SerialTransport exactly as in `stockgate edge`.
 */
export async function ptyRig(driverAndQuery: string, beforeStart?: (peer: Transport) => void): Promise<PtyRig> {
  const dir = tempDir('sg-dev-');
  const pty = await openPtyPair(join(dir, 'ttyDevice'));
  const peer = new SerialTransport({ path: pty.peerPath });
  const received: Buffer[] = [];
  // A simulator attached by `beforeStart` gets the bytes; the tap still records them for `sent()`.
  const link = tapTransport(peer, { rx: (b) => received.push(Buffer.from(b)) });
  link.onData(() => undefined);
  beforeStart?.(link);
  await peer.open();
  const [driver, query] = driverAndQuery.split('?') as [string, string | undefined];
  const dev = createDevice(parseDeviceSpec(`d1=${driver}@serial://${pty.devicePath}${query ? `?${query}` : ''}`), { reopenMinMs: 50, reopenMaxMs: 500 });
  const readings: Reading[] = [];
  dev.on('reading', (r) => readings.push(r));
  dev.start();
  await waitFor(() => dev.currentState === 'connected', 'device connected', 15_000, 20);
  return {
    pty,
    peer,
    dev,
    readings,
    sent: () => Buffer.concat(received),
    async close() {
      await dev.stop();
      await peer.close();
      await pty.close();
    },
  };
}

/** Readings of one kind. */
export function ofKind<K extends Reading['kind']>(rs: Reading[], kind: K): Extract<Reading, { kind: K }>[] {
  return rs.filter((r): r is Extract<Reading, { kind: K }> => r.kind === kind);
}
