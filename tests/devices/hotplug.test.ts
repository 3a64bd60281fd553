import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { lstatSync } from 'node:fs';
import type { DeviceHealth } from '../../protocols/mqtt/index.js';
import { openPtyPair, type PtyPair } from '../../devices/pty-pair.js';
import { createDevice, parseDeviceSpec } from '../../devices/registry.js';
import { SerialTransport } from '../../devices/serial.js';
import type { ScanReading } from '../../devices/driver.js';
import { tempDir, waitFor } from '../helpers/procs.js';

/**
 * Hot-plug through the real stack: socat ptys, serialport, the Device runner. The device end is a
 * symlink, as /dev/serial/by-id/... is. Killing socat is the unplug (serialport sees it because a
 * read is pending); a new socat at the same link path is the replug.
 */
describe('hot-plug: unplug and replug at the same by-id style path', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  it('reports disconnected, reconnects when the link comes back, and the next scan arrives', async () => {
    const dir = tempDir('sg-hotplug-');
    const byId = join(dir, 'usb-Honeywell_Imaging_1900-if00');
    let pty: PtyPair = await openPtyPair(byId, join(dir, 'peer'));
    expect(lstatSync(byId).isSymbolicLink()).toBe(true);

    const dev = createDevice(parseDeviceSpec(`dock1=scanner@serial://${byId}`), { reopenMinMs: 50, reopenMaxMs: 400 });
    const states: DeviceHealth['state'][] = [];
    const scans: ScanReading[] = [];
    dev.on('state', (s) => states.push(s));
    dev.on('reading', (r) => r.kind === 'scan' && scans.push(r));
    cleanup.push(() => dev.stop());
    dev.start();
    await waitFor(() => dev.currentState === 'connected', 'first connect');

    let peer = new SerialTransport({ path: pty.peerPath });
    await peer.open();
    await peer.write(Buffer.from(']C0BEFORE-UNPLUG\r\n'));
    await waitFor(() => scans.length === 1, 'scan before the unplug');

    // Unplug: socat goes away and takes both links with it.
    await peer.close();
    await pty.close();
    await waitFor(() => dev.currentState === 'disconnected', 'disconnected after the unplug');
    expect(dev.health()).toMatchObject({ state: 'disconnected', reconnects: 0 });
    expect(dev.health().error).toBeTruthy();

    // While it is away the runner keeps retrying the same path and stays "disconnected" (not "error").
    await new Promise((r) => setTimeout(r, 300));
    expect(dev.currentState).toBe('disconnected');

    // Replug at the same path: a new pty behind the same link.
    pty = await openPtyPair(byId, join(dir, 'peer'));
    cleanup.push(() => pty.close());
    await waitFor(() => dev.currentState === 'connected', 'reconnected after the replug');
    expect(dev.health()).toMatchObject({ state: 'connected', reconnects: 1 });
    expect(states).toEqual(['connected', 'disconnected', 'connected']);

    peer = new SerialTransport({ path: pty.peerPath });
    await peer.open();
    cleanup.push(() => peer.close());
    await peer.write(Buffer.from('AFTER-REPLUG\r\n'));
    await waitFor(() => scans.length === 2, 'scan after the replug');
    expect(scans.map((s) => s.data)).toEqual(['BEFORE-UNPLUG', 'AFTER-REPLUG']);
    expect(scans[0]!.aim).toBe(']C0');
  });
});
