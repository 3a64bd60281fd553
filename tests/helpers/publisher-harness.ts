import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { EmbeddedBroker } from '../../cloud/broker/aedes.js';
import { SqliteOutbox } from '../../edge/outbox/sqlite.js';
import { Publisher, type PublisherOptions } from '../../edge/publisher.js';
import { MovementBatch, topics, toRanges, type Ack } from '../../protocols/mqtt/index.js';
import { tempDir } from './procs.js';

/**
 * The edge's Publisher and outbox against a real broker (aedes on a free port), with the test
 * playing the cloud: it sees every batch and decides what to ack (or acks everything with
 * `autoAck`).
 */
export class PublisherHarness {
  /** Seqs of every batch received, with its arrival time (ms). */
  readonly received: Array<{ at: number; seqs: number[] }> = [];
  /** The same batches' seqs alone, in arrival order (a live array). */
  readonly batches: number[][] = [];

  private constructor(
    readonly broker: EmbeddedBroker,
    readonly cloud: MqttClient,
    readonly outbox: SqliteOutbox,
    readonly pub: Publisher,
  ) {}

  static async start(opts: Omit<PublisherOptions, 'broker' | 'site' | 'edge'>, o: { autoAck?: boolean } = {}): Promise<PublisherHarness> {
    const broker = await EmbeddedBroker.start({ port: 0 });
    const outbox = new SqliteOutbox({ path: join(tempDir(), 'o.db'), site: 's1', edge: 'e1' });
    const cloud = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`);
    // QoS 0: this test client sends no PUBACKs, so none can be written after it ends.
    await cloud.subscribeAsync(topics.movements('s1', 'e1'), { qos: 0 });
    const pub = new Publisher(outbox, { broker: `mqtt://127.0.0.1:${broker.port}`, site: 's1', edge: 'e1', ...opts });
    const h = new PublisherHarness(broker, cloud, outbox, pub);
    cloud.on('message', (_t, p) => {
      const b = MovementBatch.parse(JSON.parse(p.toString()));
      const seqs = (b.movements as Array<{ seq: number }>).map((m) => m.seq);
      h.received.push({ at: Date.now(), seqs });
      h.batches.push(seqs);
      if (o.autoAck) void h.ack(seqs);
    });
    return h;
  }

  ack(seqs: number[], missing?: Array<[number, number]>): Promise<unknown> {
    const a: Ack = { v: 1, edge: 'e1', ranges: toRanges(seqs), duplicates: 0, at: new Date().toISOString(), ...(missing ? { missing } : {}) };
    return this.cloud.publishAsync(topics.acks('s1', 'e1'), JSON.stringify(a), { qos: 1 });
  }

  async close(): Promise<void> {
    await this.pub.stop();
    // The broker first: a QoS 1 message still arriving at a client that is ending makes MQTT.js
    // write its PUBACK after the end (an uncaught "write after end").
    await this.broker.close();
    await this.cloud.endAsync(true);
    this.outbox.close();
  }
}
