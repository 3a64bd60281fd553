import { connect, type Socket } from 'node:net';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../../cloud/broker/aedes.js';

/**
 * Packet limits of the embedded aedes on the fixed header (issue 8, deliverable 2, finding 4), on
 * the real broker with real sockets: the remaining length announced is enough to refuse a packet,
 * for anonymous sockets and authenticated clients alike, and before authentication a socket may
 * send a few KB in all.
 */

/** MQTT variable-byte integer (remaining length). */
function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

/** A minimal MQTT 3.1.1 CONNECT. */
function connectPacket(clientId: string, user?: { username: string; password: string }): Buffer {
  const str = (s: string) => Buffer.concat([Buffer.from([0, Buffer.byteLength(s)]), Buffer.from(s)]);
  const flags = 0x02 | (user ? 0xc0 : 0);
  const body = Buffer.concat([str('MQTT'), Buffer.from([4, flags, 0, 60]), str(clientId), ...(user ? [str(user.username), str(user.password)] : [])]);
  return Buffer.concat([Buffer.from([0x10]), varint(body.length), body]);
}

/** Write `first`, then keep streaming `chunk`s until the peer closes; resolves with bytes written and ms until close. */
function stream(port: number, first: Buffer, chunk: Buffer, maxBytes: number): Promise<{ written: number; ms: number; closed: boolean }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    let written = 0;
    let done = false;
    const s: Socket = connect(port, '127.0.0.1', () => {
      s.write(first);
      written += first.length;
      const pump = () => {
        while (!done && written < maxBytes) {
          written += chunk.length;
          if (!s.write(chunk)) return void s.once('drain', pump);
        }
        if (!done) setTimeout(() => finish(false), 1000);
      };
      pump();
    });
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      s.destroy();
      resolve({ written, ms: Date.now() - t0, closed });
    };
    s.on('error', () => finish(true));
    s.on('close', () => finish(true));
  });
}

describe('embedded broker packet limits', () => {
  let broker: EmbeddedBroker | undefined;
  afterEach(async () => {
    await broker?.close();
    broker = undefined;
  });

  it('closes an anonymous socket announcing a 256 MB CONNECT on its header, before its body is buffered (finding 4)', async () => {
    broker = await EmbeddedBroker.start({ port: 0 });
    const header = Buffer.concat([Buffer.from([0x10]), varint(268_435_455)]);
    const r = await stream(broker.port, header, Buffer.alloc(64 * 1024, 0x41), 64 * 1024 * 1024);
    expect(r.closed).toBe(true);
    // Closed long before 64 MB could be written: only socket buffers' worth went out.
    expect(r.written).toBeLessThan(16 * 1024 * 1024);
    expect(broker.packetStats.refusedPreAuth + broker.packetStats.refusedTooLarge).toBe(1);
  });

  it('refuses more than 4 KiB before authentication: a small CONNECT followed by a flood while the authenticator is slow', async () => {
    broker = await EmbeddedBroker.start({
      port: 0,
      hooks: { authenticate: (_c, _u, _p, done) => setTimeout(() => done(null, true), 300) },
    });
    const r = await stream(broker.port, connectPacket('slow-auth'), Buffer.concat([Buffer.from([0x30]), varint(3003), Buffer.from([0, 1, 0x74]), Buffer.alloc(3000, 0x42)]), 8 * 1024 * 1024);
    expect(r.closed).toBe(true);
    expect(broker.packetStats.refusedPreAuth).toBe(1);
  });

  it.each([
    { who: 'anonymous (no authenticator)', auth: false },
    { who: 'authenticated', auth: true },
  ])('an $who client: a PUBLISH over --max-packet-bytes closes its connection; one under it is delivered', async ({ auth }) => {
    broker = await EmbeddedBroker.start({
      port: 0,
      maxPacketBytes: 256 * 1024,
      ...(auth ? { hooks: { authenticate: (_c, u, p, done) => done(null, u === 'edge' && String(p) === 'secret') } } : {}),
    });
    const got: number[] = [];
    await broker.subscribe('t/#', (_t, payload) => got.push(payload.length));
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { reconnectPeriod: 0, ...(auth ? { username: 'edge', password: 'secret' } : {}) });
    await c.publishAsync('t/ok', Buffer.alloc(200 * 1024, 1), { qos: 1 });
    expect(got).toEqual([200 * 1024]);
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    c.publish('t/big', Buffer.alloc(300 * 1024, 2), { qos: 1 });
    await closed;
    expect(broker.packetStats.refusedTooLarge).toBe(1);
    expect(got).toEqual([200 * 1024]);
    await c.endAsync(true);
    // The broker still serves others.
    const d = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { reconnectPeriod: 0, ...(auth ? { username: 'edge', password: 'secret' } : {}) });
    await d.publishAsync('t/after', 'x', { qos: 1 });
    expect(got).toEqual([200 * 1024, 1]);
    await d.endAsync();
  });
});
