import { afterAll, describe, expect, it } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import { createDevice, parseDeviceSpec } from '../../devices/registry.js';
import { TcpTransport, tcpSettingsFromUri } from '../../devices/tcp.js';
import type { Reading } from '../../devices/driver.js';
import { encodeMtSics } from '../../protocols/scale/encode.js';
import { waitFor } from '../helpers/procs.js';

/** A device server that can drop its clients and stop listening, then come back on the same port. */
class FakeEthernetDevice {
  server: Server | undefined;
  sockets = new Set<Socket>();
  received: Buffer[] = [];
  accepted = 0;
  port = 0;

  async listen(port = 0): Promise<number> {
    const server = createServer((s) => {
      this.accepted++;
      this.sockets.add(s);
      s.on('data', (b) => this.received.push(b));
      s.on('close', () => this.sockets.delete(s));
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
    this.port = (server.address() as { port: number }).port;
    return this.port;
  }

  send(bytes: Uint8Array | string): void {
    for (const s of this.sockets) s.write(bytes);
  }

  /** Power cut: every connection reset, nothing listening. */
  async drop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
  }
}

describe('tcp:// transport', () => {
  const fake = new FakeEthernetDevice();
  afterAll(() => fake.drop());

  it('parses HOST:PORT and its parameters, and names what is wrong', () => {
    expect(tcpSettingsFromUri('10.0.0.5:4001', {})).toEqual({ host: '10.0.0.5', port: 4001 });
    expect(tcpSettingsFromUri('[::1]:23', { idleTimeoutMs: '5000' })).toEqual({ host: '::1', port: 23, idleTimeoutMs: 5000 });
    expect(() => tcpSettingsFromUri('scale.local', {})).toThrow(/expected HOST:PORT/);
    expect(() => tcpSettingsFromUri('scale.local:70000', {})).toThrow(/port 1..65535/);
    expect(() => tcpSettingsFromUri('scale.local:4001', { baudRate: '9600' })).toThrow(/unknown parameter 'baudRate'/);
    expect(() => parseDeviceSpec('s=scale-mt-sics@tcp://scale.local')).toThrow(/expected HOST:PORT/);
    expect(new TcpTransport({ host: '::1', port: 23 }).uri).toBe('tcp://[::1]:23');
  });

  it('reads a scale over TCP, notices the device dropping, and reconnects when it returns on the same port', async () => {
    const port = await fake.listen(0);
    const dev = createDevice(parseDeviceSpec(`scale1=scale-mt-sics@tcp://127.0.0.1:${port}?intervalMs=50`), { reopenMinMs: 50, reopenMaxMs: 300 });
    const readings: Reading[] = [];
    dev.on('reading', (r) => readings.push(r));
    dev.start();
    try {
      await waitFor(() => dev.currentState === 'connected' && fake.sockets.size === 1, 'connected');
      // The driver polls SI; the "scale" answers whatever it was asked with a weight.
      await waitFor(() => Buffer.concat(fake.received).toString('latin1').includes('SI\r\n'), 'SI poll over TCP');
      fake.send(encodeMtSics({ kind: 'weight', weight: 12.345, unit: 'kg', stable: true }));
      await waitFor(() => readings.some((r) => r.kind === 'weight' && r.weightKg === 12.345), 'first weight');

      await fake.drop();
      await waitFor(() => dev.currentState === 'disconnected', 'disconnected after the drop');
      // Nothing listens now: reconnect attempts are refused, and the device stays disconnected.
      await new Promise((r) => setTimeout(r, 200));
      expect(dev.currentState).toBe('disconnected');

      await fake.listen(port);
      await waitFor(() => dev.currentState === 'connected' && fake.sockets.size === 1, 'reconnected');
      expect(dev.health().reconnects).toBe(1);
      fake.send(encodeMtSics({ kind: 'weight', weight: 0.5, unit: 'kg', stable: false }, { decimals: 3 }));
      await waitFor(() => readings.some((r) => r.kind === 'weight' && r.weightKg === 0.5), 'weight after the reconnect');
      expect(readings.find((r) => r.kind === 'weight' && r.weightKg === 0.5)).toMatchObject({ stable: false, unit: 'kg', raw: 'S D      0.500 kg' });
      expect(fake.accepted).toBe(2);
    } finally {
      await dev.stop();
    }
  });

  it('closes an idle link when idleTimeoutMs is set (a power-cut indicator sends no FIN)', async () => {
    const silent = new FakeEthernetDevice();
    const port = await silent.listen(0);
    const t = new TcpTransport({ host: '127.0.0.1', port, idleTimeoutMs: 100 });
    const closed = new Promise<Error | undefined>((resolve) => t.onClose((err) => resolve(err)));
    await t.open();
    const err = await closed;
    expect(err).toMatchObject({ disconnected: true });
    expect(err!.message).toMatch(/no data for 100 ms/);
    await silent.drop();
  });
});
