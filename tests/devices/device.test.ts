import { describe, expect, it } from 'vitest';
import { Device } from '../../devices/device.js';
import type { DeviceProfile, Driver, Reading } from '../../devices/driver.js';
import { MemoryTransport } from '../../devices/memory.js';
import type { Transport } from '../../devices/transport.js';
import { waitFor } from '../helpers/procs.js';

/** A driver that records its lifecycle and holds bytes until flushed. */
class ProbeDriver implements Driver {
  readonly profile: DeviceProfile = { driver: 'probe', description: 'test', reads: 'scan', idleFlushMs: 30 };
  readonly counters = { frames: 0, droppedBytes: 0, droppedFrames: 0 };
  events: string[] = [];
  held: number[] = [];
  failStart = false;
  push(bytes: Uint8Array): Reading[] {
    this.held.push(...bytes);
    return [];
  }
  flush(): Reading[] {
    const raw = String.fromCharCode(...this.held);
    this.held = [];
    this.events.push('flush');
    return raw ? [{ kind: 'scan', data: raw, raw, at: Date.now() }] : [];
  }
  async start(_t: Transport): Promise<void> {
    this.events.push('start');
    if (this.failStart) throw new Error('init refused');
  }
  stop(): void {
    this.events.push('stop');
  }
  reset(): void {
    this.events.push('reset');
  }
}

describe('Device runner', () => {
  it('flushes the driver when the line goes idle, and stops it when the link drops or the device stops', async () => {
    const [dev, sim] = MemoryTransport.pair('runner-1');
    const driver = new ProbeDriver();
    const device = new Device('p', driver, dev, { reopenMinMs: 10 });
    const readings: Reading[] = [];
    device.on('reading', (r) => readings.push(r));
    device.start();
    await sim.open();
    await waitFor(() => device.currentState === 'connected', 'connected');
    await sim.write(Buffer.from('HELD'));
    await waitFor(() => readings.length === 1, 'flushed reading');
    expect(readings[0]).toMatchObject({ data: 'HELD' });
    await dev.close(); // the link drops
    await waitFor(() => driver.events.filter((e) => e === 'start').length === 2, 'restarted');
    expect(driver.events.slice(0, 5)).toEqual(['reset', 'start', 'flush', 'stop', 'reset']);
    await device.stop();
    expect(driver.events.at(-1)).toBe('stop');
  });

  it('closes the link and retries when the driver cannot start (state error)', async () => {
    const [dev] = MemoryTransport.pair('runner-2');
    const driver = new ProbeDriver();
    driver.failStart = true;
    const device = new Device('p', driver, dev, { reopenMinMs: 10, reopenMaxMs: 20 });
    device.start();
    await waitFor(() => driver.events.filter((e) => e === 'start').length >= 3, 'retries');
    expect(device.currentState).toBe('error');
    expect(device.health().error).toBe('init refused');
    driver.failStart = false;
    await waitFor(() => device.currentState === 'connected', 'connected once the driver starts');
    await device.stop();
  });
});
