import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../bench/free-port.js';

/** The kernel's first ephemeral port: what outgoing connections take their local ends from. */
const ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);

describe('freePort (bench/free-port.ts)', () => {
  it('gives ports below the ephemeral range, each listenable and none twice', async () => {
    const ports: number[] = [];
    for (let i = 0; i < 100; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(ports.length);
    for (const p of ports) {
      expect(p).toBeGreaterThanOrEqual(10_000);
      expect(p).toBeLessThan(ephemeralLow);
    }
    // Free when given: the server it is for can listen on it.
    const s = createServer();
    await new Promise<void>((resolve, reject) => (s.once('error', reject), s.listen(ports[99], '127.0.0.1', resolve)));
    await new Promise((r) => s.close(r));
  });

});
