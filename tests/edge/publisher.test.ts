import { afterEach, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import type { EmbeddedBroker } from '../../cloud/broker/aedes.js';
import type { SqliteOutbox } from '../../edge/outbox/sqlite.js';
import type { Publisher } from '../../edge/publisher.js';
import { topics } from '../../protocols/mqtt/index.js';
import { waitFor } from '../helpers/procs.js';
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
