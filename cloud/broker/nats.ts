import { createHash } from 'node:crypto';
import {
  AckPolicy,
  connect,
  DeliverPolicy,
  type JsMsg,
  type JetStreamManager,
  type NatsConnection,
  nanos,
  RetentionPolicy,
  StorageType,
  type Subscription,
} from 'nats';
import type { Bus, BusHandler, PublishOptions } from './bus.js';

/**
 * A NATS cluster as the bus (issue 14 §5): `stockgate cloud --nats nats://A,nats://B,...`.
 *
 * Edges keep speaking MQTT to any node of the cluster (NATS' MQTT listener maps the topic
 * `stockgate/v1/site/edge/movements` to the subject `stockgate.v1.site.edge.movements`). The cloud
 * speaks NATS:
 * - **movements**: a replicated JetStream stream (`num_replicas` R3 by default, work-queue
 *   retention) captures `stockgate.v1.*.*.movements`, so a batch survives the loss of the node
 *   the edge published to. Every ingester pulls from ONE durable consumer (competing consumers,
 *   like Mosquitto's `$share`), and acks a message (JetStream ack) only when the ingester settles
 *   it, i.e. after the ledger commit. A message settled `false` is nak'ed; a message of an
 *   ingester that died is redelivered after `ack_wait`; the ledger deduplicates by movement id,
 *   so a redelivery is applied at most once and re-acked to the edge.
 * - **everything else** (status, telemetry): plain NATS subscriptions (the MQTT QoS 0/1 copies).
 * - **acks/rejects/alerts to MQTT clients**: a plain NATS publish on the subject of the MQTT
 *   topic; NATS delivers it to the edge's MQTT session at whatever node it is connected to.
 *   That delivery is at most once (a NATS-published message is not stored for MQTT sessions),
 *   which the reliability protocol already allows: an edge that misses an ack resends the batch
 *   after its ack timeout and the cloud acks it again from the ledger. No retained messages
 *   (NATS publishes cannot set the MQTT retain flag): the cloud publishes none on this path.
 */
export interface NatsBusOptions {
  /** One or more `nats://HOST:PORT` (comma-separated on the command line): any node will do. */
  servers: string[];
  /** Durable consumer shared by every ingester (`--shared-group`, default `stockgate-ingest`). */
  durable: string;
  /** Stream replicas: 3 on a 3-node cluster (R3), 1 on a single server. */
  replicas: number;
  /** Ingest only these sites (consumer filter subjects); default all. */
  sites?: string[];
  /** Connection name in the server's monitoring (`connz`). */
  name?: string;
  /** Seconds before a message an ingester took but did not ack is delivered again. Default 10. */
  ackWaitSec?: number;
}

export const NATS_STREAM = 'STOCKGATE_MOVEMENTS';
export const NATS_MOVEMENT_SUBJECTS = 'stockgate.v1.*.*.movements';

/**
 * MQTT topic (filter) -> NATS subject, as the NATS server maps them for its MQTT clients: levels
 * become tokens (`/` -> `.`), a `.` inside a level becomes `//`, `+` -> `*`, `#` -> `>`.
 */
export function mqttToSubject(topic: string): string {
  return topic
    .split('/')
    .map((level) => (level === '+' ? '*' : level === '#' ? '>' : level.replace(/\./g, '//')))
    .join('.');
}

/** NATS subject -> MQTT topic (the reverse of `mqttToSubject` for concrete subjects). */
export function subjectToMqtt(subject: string): string {
  return subject
    .split('.')
    .map((token) => token.replace(/\/\//g, '.'))
    .join('/');
}

/** A durable/consumer name is a single NATS token without `.`, `*`, `>`: keep it readable and unique. */
function consumerName(durable: string, site: string | undefined): string {
  if (site === undefined) return durable;
  const safe = site.replace(/[^A-Za-z0-9_-]/g, '_');
  return safe === site ? `${durable}-${site}` : `${durable}-${safe}-${createHash('sha256').update(site).digest('hex').slice(0, 8)}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class NatsBus implements Bus {
  readonly describe: string;
  /** Messages pulled, JetStream acks sent after settle, naks, pulls that failed (node loss, leader change). */
  readonly stats = { pulled: 0, acks: 0, naks: 0, pullErrors: 0, reconnects: 0 };
  private readonly subs: Subscription[] = [];
  private closed = false;
  private connected = true;
  private readonly pulls: Array<Promise<void>> = [];
  /** Pulled, handed to a handler, not settled yet: bounded so a slow ledger holds the stream back. */
  private unsettled = 0;
  private readonly maxUnsettled = 64;
  private wakers: Array<() => void> = [];

  private constructor(private readonly nc: NatsConnection, private readonly jsm: JetStreamManager, private readonly o: NatsBusOptions) {
    this.describe = `nats ${o.servers.map((s) => s.replace(/\/\/[^@/]*@/, '//')).join(',')} (stream ${NATS_STREAM} R${o.replicas}, consumer ${o.durable})`;
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') this.connected = false;
        if (s.type === 'reconnect') {
          this.connected = true;
          this.stats.reconnects++;
        }
      }
    })();
  }

  get healthy(): boolean {
    return this.connected && !this.nc.isClosed();
  }

  /** Connect (any listed node), then create (or find) the replicated stream. */
  static async connect(o: NatsBusOptions): Promise<NatsBus> {
    const nc = await connect({
      servers: o.servers,
      name: o.name ?? 'stockgate-cloud',
      // Never give up: the cluster outlives any one node, and the client learns the others' URLs.
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      waitOnFirstConnect: true,
      timeout: 10_000,
    });
    try {
      const jsm = await nc.jetstreamManager({ timeout: 5000 });
      const bus = new NatsBus(nc, jsm, o);
      await bus.ensureStream();
      return bus;
    } catch (err) {
      await nc.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * The stream is created by whichever ingester comes first (the add is idempotent for an equal
   * configuration). Right after a cluster starts, JetStream has no meta leader for a few seconds:
   * retry for up to 30 s.
   */
  private async ensureStream(): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await this.jsm.streams.info(NATS_STREAM);
        return;
      } catch (err) {
        if (!/not found/i.test(String((err as Error).message))) {
          if (Date.now() > deadline) throw err;
          await sleep(500);
          continue;
        }
      }
      try {
        await this.jsm.streams.add({
          name: NATS_STREAM,
          subjects: [NATS_MOVEMENT_SUBJECTS],
          // Work queue: a message is removed once acked, so the stream holds only what no
          // ingester has committed yet (it is not a second ledger).
          retention: RetentionPolicy.Workqueue,
          storage: StorageType.File,
          num_replicas: this.o.replicas,
        });
        return;
      } catch (err) {
        if (Date.now() > deadline) throw Object.assign(new Error(`nats: cannot create stream ${NATS_STREAM} (R${this.o.replicas}): ${(err as Error).message}`), { code: 'SG_ERR_CONFIG' });
        await sleep(500);
      }
    }
  }

  private async ensureConsumer(name: string, filter: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await this.jsm.consumers.add(NATS_STREAM, {
          durable_name: name,
          filter_subject: filter,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          ack_wait: nanos((this.o.ackWaitSec ?? 10) * 1000),
          max_ack_pending: 10_000,
          num_replicas: this.o.replicas,
        });
        return;
      } catch (err) {
        // A second ingester adding the same durable: the existing one is what we want.
        try {
          await this.jsm.consumers.info(NATS_STREAM, name);
          return;
        } catch {
          if (Date.now() > deadline) throw err;
          await sleep(500);
        }
      }
    }
  }

  async subscribe(filter: string, handler: BusHandler): Promise<void> {
    const subject = mqttToSubject(filter.replace(/^\$share\/[^/]+\//, ''));
    if (/\.movements$/.test(subject)) {
      // Movements come from the stream: one durable consumer per site filter (work-queue streams
      // need non-overlapping consumer filters), shared by every ingester.
      const site = subject.split('.')[2];
      const name = consumerName(this.o.durable, site === '*' ? undefined : site);
      await this.ensureConsumer(name, subject);
      this.pulls.push(this.pullLoop(name, handler));
      return;
    }
    this.subs.push(
      this.nc.subscribe(subject, {
        callback: (err, msg) => {
          if (err) return;
          handler(subjectToMqtt(msg.subject), Buffer.from(msg.data), () => undefined);
        },
      }),
    );
  }

  /**
   * Pull batches while fewer than `maxUnsettled` messages wait for their commit. A pull that fails
   * (the node we are connected to died, the stream leader moved) is simply retried: whatever it
   * had handed out unacked comes back after ack_wait.
   */
  private async pullLoop(name: string, handler: BusHandler): Promise<void> {
    const js = this.nc.jetstream();
    while (!this.closed) {
      if (this.unsettled >= this.maxUnsettled) {
        await new Promise<void>((r) => this.wakers.push(r));
        continue;
      }
      try {
        const consumer = await js.consumers.get(NATS_STREAM, name);
        const msgs = await consumer.fetch({ max_messages: this.maxUnsettled - this.unsettled, expires: 1000 });
        for await (const m of msgs) this.deliver(m, handler);
      } catch {
        this.stats.pullErrors++;
        if (!this.closed) await sleep(250);
      }
    }
  }

  private deliver(m: JsMsg, handler: BusHandler): void {
    this.stats.pulled++;
    this.unsettled++;
    let settled = false;
    handler(subjectToMqtt(m.subject), Buffer.from(m.data), (ok) => {
      if (settled) return;
      settled = true;
      this.unsettled--;
      for (const w of this.wakers.splice(0)) w();
      // The JetStream ack is what frees the stream: sent only after the ledger commit (ok=true).
      if (ok) {
        this.stats.acks++;
        m.ack();
      } else {
        this.stats.naks++;
        m.nak(1000);
      }
    });
  }

  async publish(topic: string, payload: string | Buffer, _opts: PublishOptions = {}): Promise<void> {
    this.nc.publish(mqttToSubject(topic), typeof payload === 'string' ? Buffer.from(payload) : payload);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.wakers.splice(0)) w();
    for (const s of this.subs) s.unsubscribe();
    // drain(): flushes the acks of what was committed before the ingester drained.
    await this.nc.drain().catch(() => this.nc.close());
    await Promise.allSettled(this.pulls);
  }
}
