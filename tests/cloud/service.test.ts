import { describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { join } from 'node:path';
import pino from 'pino';
import { parseCloudConfig } from '../../cloud/config.js';
import { startCloud } from '../../cloud/service.js';
import { tempDir } from '../helpers/procs.js';

const listen = (port: number) =>
  new Promise<import('node:net').Server>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });

describe('startCloud', () => {
  it('closes what it opened when a later step fails (HTTP port taken): the broker port is free again', async () => {
    const blocker = await listen(0);
    const httpPort = (blocker.address() as { port: number }).port;
    const probe = await listen(0);
    const mqttPort = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    await expect(
      startCloud(parseCloudConfig({ dataDir: join(tempDir(), 'c'), mqttPort, httpPort, insecure: true }), pino({ level: 'silent' })),
    ).rejects.toThrow(/EADDRINUSE/);
    // The embedded broker opened before the failure must have been closed.
    const again = await listen(mqttPort);
    await new Promise((r) => again.close(r));
    await new Promise((r) => blocker.close(r));
  });
});
