import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { MqttClient } from 'mqtt';
import type { EmbeddedBroker } from '../../cloud/broker/aedes.js';
import type { SqliteOutbox } from '../../edge/outbox/sqlite.js';
import type { Publisher } from '../../edge/publisher.js';
import { topics } from '../../protocols/mqtt/index.js';
import { requireBuild, ROOT, tempDir, waitFor } from '../helpers/procs.js';

const execFileP = promisify(execFile);
import { PublisherHarness } from '../helpers/publisher-harness.js';

const draft = (i: number) => ({
  ts: new Date().toISOString(),
  location: 'DOCK',
  kind: 'receive' as const,
  sku: `SKU-${i}`,
  qty: 1,
  uom: 'ea',
  device: { id: 'd', type: 'scanner' },
  raw: `SKU-${i}`,
});

/**
 * The edge half of the reliability protocol against a real broker (aedes on a free port), with
 * the test playing the cloud: it decides what to ack.
 */
describe('Publisher', () => {
  let h: PublisherHarness | undefined;
  let broker: EmbeddedBroker | undefined;
  let cloud: MqttClient | undefined;
  let pub: Publisher | undefined;
  let outbox: SqliteOutbox | undefined;
  afterEach(() => h?.close());

  async function setup(opts: { batchSize: number; window: number; ackTimeoutMs?: number }) {
    h = await PublisherHarness.start({ ...opts, ackTimeoutMs: opts.ackTimeoutMs ?? 60_000 });
    ({ broker, cloud, pub, outbox } = h);
    const harness = h;
    return { received: harness.batches, ack: (seqs: number[], missing?: Array<[number, number]>) => harness.ack(seqs, missing) };
  }

  it('turns Nagle off on its connection (TCP_NODELAY): a batch must not wait for the broker\'s delayed TCP ACK', async () => {
    const seen: Array<[Socket, boolean | undefined]> = [];
    const orig = Socket.prototype.setNoDelay;
    const spy = vi.spyOn(Socket.prototype, 'setNoDelay').mockImplementation(function (this: Socket, on?: boolean) {
      seen.push([this, on]);
      return orig.call(this, on);
    });
    try {
      await setup({ batchSize: 10, window: 2 });
      pub!.start();
      await waitFor(() => pub!.isConnected, 'connected');
      const stream = (pub as unknown as { client: MqttClient }).client.stream;
      expect(seen.some(([s, on]) => s === stream && on === true)).toBe(true);
    } finally {
      spy.mockRestore();
    }
  });

  it('sends batches within the window and frees entries only on the application ack', async () => {
    const { received, ack } = await setup({ batchSize: 10, window: 2 });
    outbox!.append(Array.from({ length: 50 }, (_, i) => draft(i)));
    pub!.start();
    await waitFor(() => received.length === 2, 'two batches');
    // The window is full: the broker has PUBACKed both, yet nothing more goes out and nothing is freed.
    await new Promise((r) => setTimeout(r, 300));
    expect(received).toEqual([
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      [11, 12, 13, 14, 15, 16, 17, 18, 19, 20],
    ]);
    expect(outbox!.backlog().count).toBe(50);
    await ack(received[0]!);
    await waitFor(() => received.length === 3, 'third batch after an ack');
    expect(received[2]![0]).toBe(21);
    expect(outbox!.backlog().count).toBe(40);
  });

  it('resends from a gap the cloud reports, without waiting for the ack timeout', async () => {
    const { received, ack } = await setup({ batchSize: 5, window: 4, ackTimeoutMs: 60_000 });
    outbox!.append(Array.from({ length: 10 }, (_, i) => draft(i)));
    pub!.start();
    await waitFor(() => received.length === 2, 'two batches');
    // The cloud "lost" seqs 1-5: it acks 6-10 and names 1-5 as missing.
    await ack(received[1]!, [[1, 5]]);
    await waitFor(() => received.length >= 3, 'resend of the gap', 5000);
    expect(received[2]).toEqual([1, 2, 3, 4, 5]);
    expect(outbox!.backlog()).toMatchObject({ count: 5, oldestSeq: 1 });
    await ack(received[2]!);
    await waitFor(() => outbox!.backlog().count === 0, 'drained');
  });

  it('resends everything unacked after a reconnect, oldest first, in batches', async () => {
    const { received, ack } = await setup({ batchSize: 4, window: 8 });
    outbox!.append(Array.from({ length: 8 }, (_, i) => draft(i)));
    pub!.start();
    await waitFor(() => received.length === 2, 'two batches');
    await ack(received[0]!);
    await waitFor(() => outbox!.backlog().count === 4, 'first batch freed');
    // Drop every client connection: the publisher reconnects on its own.
    for (const c of Object.values((broker!.aedes as unknown as { clients: Record<string, { close(): void }> }).clients)) {
      if (c !== undefined && (c as { id?: string }).id?.startsWith('sg-edge')) c.close();
    }
    await waitFor(() => received.length >= 3, 'resend after reconnect', 10_000);
    expect(received[2]).toEqual([5, 6, 7, 8]);
    expect(pub!.stats.connects).toBeGreaterThanOrEqual(2);
  });

  it('moves rejected movements out of the outbox with the reason', async () => {
    const { received } = await setup({ batchSize: 10, window: 1 });
    outbox!.append([draft(1), draft(2)]);
    pub!.start();
    await waitFor(() => received.length === 1, 'one batch');
    await cloud!.publishAsync(
      topics.rejects('s1', 'e1'),
      JSON.stringify({ v: 1, edge: 'e1', reason: 'INVALID_SCHEMA', message: 'qty: must be > 0', ranges: [[2, 2]], at: new Date().toISOString() }),
      { qos: 1 },
    );
    await waitFor(() => outbox!.rejected(10).length === 1, 'rejected moved');
    expect(outbox!.rejected(10)[0]).toMatchObject({ seq: 2, reason: 'INVALID_SCHEMA', message: 'qty: must be > 0' });
    expect(outbox!.backlog()).toMatchObject({ count: 1, oldestSeq: 1 });
  });
});

describe('publisher memory (issue 14: idle edge RSS)', () => {
  /**
   * How many 2-byte number buffers mqtt-packet cached in a fresh node process after an MQTT client
   * tried to connect (the broker down, as for an edge in an outage): `publisher` is the edge's
   * Publisher, `plain` MQTT.js with its defaults. A child process each: the cache is module state.
   */
  async function numberCacheAfterConnect(client: 'publisher' | 'plain'): Promise<number> {
    requireBuild();
    const dist = (p: string) => JSON.stringify(pathToFileURL(join(ROOT, 'dist', p)).href);
    const script = `
      import { createRequire } from 'node:module';
      const numbers = createRequire(${JSON.stringify(join(ROOT, 'package.json'))})('mqtt-packet/numbers.js');
      if (${JSON.stringify(client)} === 'publisher') {
        const { SqliteOutbox } = await import(${dist('edge/outbox/sqlite.js')});
        const { Publisher } = await import(${dist('edge/publisher.js')});
        const outbox = new SqliteOutbox({ path: ${JSON.stringify(join(tempDir(), 'o.db'))}, site: 's1', edge: 'e1' });
        const pub = new Publisher(outbox, { broker: 'mqtt://127.0.0.1:1', site: 's1', edge: 'e1' });
        pub.on('error', () => undefined);
        pub.start();
      } else {
        const mqtt = (await import('mqtt')).default;
        mqtt.connect('mqtt://127.0.0.1:1', { reconnectPeriod: 0 }).on('error', () => undefined);
      }
      setTimeout(() => { process.stdout.write(String(Object.keys(numbers.cache).length)); process.exit(0); }, 500);
    `;
    const { stdout } = await execFileP(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT });
    return Number(stdout);
  }

  it('the edge does not build mqtt-packet\'s 65,536-buffer number cache (~6 MB of heap); MQTT.js by default does', async () => {
    // Control: the default client builds it at its first packet, so the count below can see it.
    expect(await numberCacheAfterConnect('plain')).toBe(65536);
    expect(await numberCacheAfterConnect('publisher')).toBe(0);
  });
});
