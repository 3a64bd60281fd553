import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EmbeddedBroker } from '../../../cloud/broker/aedes.js';

/**
 * The embedded broker's accepted connections have Nagle off (TCP_NODELAY), plain and TLS: the
 * application ack goes out a few ms after the PUBACK of the batch it acks, and with Nagle on it
 * waited for the edge's TCP ACK of that PUBACK (bench/README.md, paced latency). Node offers no
 * getsockopt, so the test watches `Socket.prototype.setNoDelay` and checks that the very socket
 * aedes holds for the connected client got `true` (the edge's test does the same,
 * tests/edge/publisher.test.ts).
 */
describe('EmbeddedBroker: TCP_NODELAY on accepted connections', () => {
  let broker: EmbeddedBroker | undefined;
  let client: mqtt.MqttClient | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    vi.restoreAllMocks();
    await client?.endAsync(true);
    await broker?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    client = broker = dir = undefined;
  });

  async function noDelayOfServerSide(opts: { tls?: { cert: Buffer; key: Buffer } }): Promise<Array<boolean | undefined>> {
    const seen: Array<[Socket, boolean | undefined]> = [];
    const orig = Socket.prototype.setNoDelay;
    vi.spyOn(Socket.prototype, 'setNoDelay').mockImplementation(function (this: Socket, on?: boolean) {
      seen.push([this, on]);
      return orig.call(this, on);
    });
    broker = await EmbeddedBroker.start({ port: 0, ...opts });
    const url = `${opts.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${broker.port}`;
    client = await mqtt.connectAsync(url, { clientId: 'nodelay-probe', reconnectPeriod: 0, ...(opts.tls ? { ca: opts.tls.cert } : {}) });
    const conn = (broker.aedes as unknown as { clients: Record<string, { conn: Socket }> }).clients['nodelay-probe']?.conn;
    // Control: the socket aedes holds is found, and the client's own socket is another one.
    expect(conn).toBeInstanceOf(Socket);
    expect(conn).not.toBe(client.stream);
    return seen.filter(([s]) => s === conn).map(([, on]) => on);
  }

  it('plain MQTT', async () => {
    expect(await noDelayOfServerSide({})).toContain(true);
  });

  it('MQTT over TLS', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sg-nodelay-'));
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-days', '1']);
    expect(r.status).toBe(0);
    expect(await noDelayOfServerSide({ tls: { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) } })).toContain(true);
  });
});
