/**
 * Why one file (over 400 lines): the edge's uplink is one job, the connection lifecycle, whose
 * parts share state: options and typed events (~110 lines of documented contract),
 * connect/subscribe/reconnect, status and will, batch encoding (versions 1 and 2 and their
 * negotiation, which lives in the acks and rejects), and ack/reject routing with signature and
 * seq-bound checks. Splitting those further would pass the MQTT client and its
 * state between files without making any part testable alone. What could leave did (issue 15
 * §1): the drain window (drain-window.ts, pure) and the status (built in health.ts).
 */
import mqtt, { type MqttClient } from 'mqtt';
import { EventEmitter } from 'node:events';
import {
  Ack,
  BATCH_VERSIONS,
  ROW_COLUMNS,
  ROWS_BATCH_VERSION,
  Reject,
  SCHEMA_VERSION,
  verifyAck,
  verifyReject,
  topics,
  type EdgeStatus,
  type EdgeStatusDetails,
  type SeqRange,
} from '../protocols/mqtt/index.js';
import { DrainWindow } from './drain-window.js';
import { edgeStatus, type StatusReason, type StatusState } from './health.js';
import { PayloadPool } from './payload-pool.js';
import type { OutboxBatch, OutboxStore } from './outbox/outbox-store.js';
import { TokenBucket } from './token-bucket.js';

export interface PublisherOptions {
  /** Broker URL, e.g. mqtt://127.0.0.1:1883. */
  broker: string;
  site: string;
  edge: string;
  username?: string;
  password?: string;
  /** PEM CA certificate(s) to trust for an mqtts:// broker (default: the system CAs). */
  ca?: string | Buffer;
  /** Movements per batch message. Default 500 (the cloud accepts up to 1000). */
  batchSize?: number;
  /** Batches published and not yet acked, at most. Default 8. */
  window?: number;
  /**
   * Largest batch message, bytes: a batch over it goes out in fewer movements. Below the cloud's
   * `--max-packet-bytes` (default 1 MiB), which closes the connection of an oversized packet: a
   * batch over it would be refused and resent for ever. Default 768 KiB.
   */
  maxBatchBytes?: number;
  /**
   * How long a batch may wait for its application ack before the window is resent from it, in ms.
   * Covers a cloud that restarted behind a broker that stayed up. Default 10000.
   */
  ackTimeoutMs?: number;
  /** First reconnect delay in ms, doubled per failure up to `reconnectMaxMs`. Default 250. */
  reconnectMinMs?: number;
  /** Longest reconnect delay in ms. Default 5000. */
  reconnectMaxMs?: number;
  /**
   * The retained status to send (and the last will: `offline`, `lwt`): the agent's
   * `EdgeHealth.status`. Default: the bare envelope of `edgeStatus` (health.ts, the one place a
   * status is built).
   */
  status?: (state: StatusState, reason: StatusReason) => EdgeStatusDetails;
  /** Drain limit, movements/s (token bucket, one second of burst); 0 or absent = unlimited. */
  drainRatePerSec?: number;
  /** Subscribe to the retained remote config topic and emit `config` with each payload. */
  remoteConfig?: boolean;
  /**
   * The edge's ack key (`deriveAckKey(password or --ack-key)`, protocols/mqtt/ack-signature.ts).
   * With a key, acks and rejects without a valid `sig` are dropped and counted; without one they
   * are taken unsigned, and only the seq bound protects the outbox.
   */
  ackKey?: Buffer;
  /**
   * Send the rows form (batch version 2, protocols/mqtt/movement-rows.ts) to a cloud whose acks
   * offer it. Default true (when the outbox can read rows); false sends version 1 only and does
   * not ask.
   */
  rowsForm?: boolean;
}

export interface PublisherEvents {
  connected: [];
  disconnected: [];
  /** A connection attempt failed before it was up (refused, timeout, DNS, TLS, CONNACK refusal). */
  unreachable: [err: Error | undefined, failures: number];
  /** A batch went out (seq range, inclusive). */
  published: [first: number, last: number];
  acked: [count: number, ranges: SeqRange[]];
  /**
   * An ack or reject was dropped: no valid signature (`unsigned`, `bad-signature`), or it named
   * seqs above the highest seq sent (`beyond-sent`: only those seqs were ignored).
   */
  ackRefused: [why: 'unsigned' | 'bad-signature' | 'beyond-sent', detail: { topic: string; seqs?: number; highestSent: number }];
  rejected: [reject: Reject, moved: number];
  /** A payload on `.../config` (retained: delivered again after every reconnect). */
  config: [payload: Buffer];
  /** A payload on `.../items`: the cloud's item master snapshot (retained). */
  items: [payload: Buffer];
  error: [err: Error];
}

/**
 * The uplink: drains the outbox to the broker, steps 1-6 of the reliability protocol on the edge
 * side. It owns the connection (connect, subscribe, reconnect with backoff, status and will),
 * encodes batches and routes acks and rejects; what is in flight, where the next batch starts and
 * when to resend is the pure `DrainWindow` (drain-window.ts, issue 15 §1).
 *
 * - Movements go out as batches of up to `batchSize` on `.../movements`, with at most `window`
 *   batches awaiting the cloud's application ack. So a backlog drains in windows of batches, not
 *   one message per round trip.
 * - Entries leave the outbox only on the cloud's ack (`.../acks`), never on PUBACK: aedes sends
 *   PUBACK before it even hands the message on.
 * - MQTT.js's own reconnect and store replay are off (`reconnectPeriod: 0`, a new client per
 *   connection): its replay is stop-and-wait and it would resend what we resend anyway
 *   (MQTT.js #1086, #1153). The outbox is the only store; after every (re)connect the drain
 *   restarts from the oldest unacked seq.
 */
export class Publisher extends EventEmitter<PublisherEvents> {
  private readonly o: Required<Omit<PublisherOptions, 'username' | 'password' | 'ca' | 'drainRatePerSec' | 'remoteConfig' | 'ackKey' | 'status' | 'rowsForm'>> &
    Pick<PublisherOptions, 'username' | 'password' | 'ca' | 'remoteConfig' | 'ackKey'>;
  private client: MqttClient | undefined;
  private connected = false;
  private stopped = false;
  /** In flight, next seq, resends: the pure half of the drain. */
  private readonly drain: DrainWindow;
  /** Connection attempts failed in a row (0 once connected). */
  private failures = 0;
  private pumping = false;
  private reconnectDelay: number;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private ackTimer: NodeJS.Timeout | undefined;
  private bucket: TokenBucket | undefined;
  private pumpTimer: NodeJS.Timeout | undefined;
  private pendingAcks: SeqRange[] = [];
  private ackFlush: NodeJS.Immediate | undefined;
  private readonly envelope: string;
  /** The version 2 envelope up to `sentAt`; undefined when this edge sends version 1 only. */
  private readonly rowsEnvelope: string | undefined;
  /**
   * Negotiation of the rows form, per connection (a reconnect may find another cloud): offered by
   * the last ack taken; refused once a version 2 batch was refused as a whole on this connection,
   * and not sent again before the next connect.
   */
  private rowsOffered = false;
  private rowsRefused = false;
  private rowsSentOnThisConnection = false;
  private readonly status: NonNullable<PublisherOptions['status']>;
  private readonly pool: PayloadPool;
  private readonly movementsTopic: string;
  /** Counters for health and bench. */
  readonly stats = {
    batchesSent: 0,
    movementsSent: 0,
    acked: 0,
    rejected: 0,
    resends: 0,
    connects: 0,
    /** Acks/rejects dropped for a missing or wrong signature (an edge with an ack key). */
    acksBadSignature: 0,
    /** Seqs named by acks/rejects above the highest seq sent, ignored. */
    ackSeqsBeyondSent: 0,
    /** Batches sent in the rows form (version 2). */
    rowsBatchesSent: 0,
    /** Times a version 2 batch was refused as a whole and the edge went back to version 1. */
    rowsFallbacks: 0,
  };

  constructor(
    private readonly outbox: OutboxStore,
    opts: PublisherOptions,
  ) {
    super();
    this.o = {
      batchSize: 500,
      window: 8,
      maxBatchBytes: 768 * 1024,
      ackTimeoutMs: 10_000,
      reconnectMinMs: 250,
      reconnectMaxMs: 5_000,
      ...opts,
    };
    this.reconnectDelay = this.o.reconnectMinMs;
    this.drain = new DrainWindow({ window: this.o.window, ackTimeoutMs: this.o.ackTimeoutMs });
    const ids = `"site":${JSON.stringify(this.o.site)},"edge":${JSON.stringify(this.o.edge)},`;
    const rows = opts.rowsForm !== false && typeof outbox.readRows === 'function';
    // An edge that can send version 2 asks in every version 1 batch (`batchVersions`).
    const asks = rows ? `"batchVersions":${JSON.stringify(BATCH_VERSIONS)},` : '';
    this.envelope = `{"v":${SCHEMA_VERSION},${ids}${asks}`;
    this.rowsEnvelope = rows ? `{"v":${ROWS_BATCH_VERSION},${ids}${asks}"cols":${JSON.stringify(ROW_COLUMNS)},` : undefined;
    this.movementsTopic = topics.movements(this.o.site, this.o.edge);
    this.status = opts.status ?? ((state, reason) => edgeStatus({ site: this.o.site, edge: this.o.edge }, state, reason));
    this.pool = new PayloadPool(this.o.window + 2);
    this.setDrainRate(opts.drainRatePerSec ?? 0);
  }

  /** Change the drain limit (remote config); 0 = unlimited. */
  setDrainRate(perSec: number): void {
    if (!(perSec >= 0) || !Number.isFinite(perSec)) throw new TypeError(`drainRatePerSec must be >= 0, got ${perSec}`);
    if ((this.bucket?.ratePerSec ?? 0) === perSec) return;
    this.bucket = perSec > 0 ? new TokenBucket(perSec, Date.now()) : undefined;
    clearTimeout(this.pumpTimer);
    this.pumpTimer = undefined;
    this.kick();
  }

  get drainRatePerSec(): number {
    return this.bucket?.ratePerSec ?? 0;
  }

  get isConnected(): boolean {
    return this.connected;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  /** New movements were appended: publish them if the window has room. */
  kick(): void {
    if (this.connected) this.pump();
  }

  /** Publish the retained status now (e.g. after a device state change). */
  publishStatus(reason: EdgeStatus['reason'] = 'update'): void {
    if (!this.client || !this.connected) return;
    this.client.publish(topics.status(this.o.site, this.o.edge), JSON.stringify(this.status('online', reason)), {
      qos: 1,
      retain: true,
    });
  }

  /** Publish a telemetry payload (QoS 0). */
  publishTelemetry(payload: unknown): void {
    if (!this.client || !this.connected) return;
    this.client.publish(topics.telemetry(this.o.site, this.o.edge), JSON.stringify(payload), { qos: 0 });
  }

  /** Graceful stop: retained offline status, then disconnect. Unacked entries stay in the outbox. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.pumpTimer);
    clearInterval(this.ackTimer);
    if (this.ackFlush) {
      // Acks already received still free their entries (the outbox is closed after stop()).
      clearImmediate(this.ackFlush);
      this.flushAcks();
    }
    const c = this.client;
    this.client = undefined;
    this.connected = false;
    if (!c) return;
    // Acks arriving from now on must not touch the outbox (it is closed after stop()).
    c.removeAllListeners('message');
    if (c.connected) {
      // Unsubscribe first and wait for the UNSUBACK: a QoS 1 ack still arriving while the client
      // ends makes MQTT.js write its PUBACK after the end, an uncaught "write after end".
      await c.unsubscribeAsync([topics.acks(this.o.site, this.o.edge), topics.rejects(this.o.site, this.o.edge)]).catch(() => undefined);
      await new Promise<void>((resolve) => {
        c.publish(topics.status(this.o.site, this.o.edge), JSON.stringify(this.status('offline', 'shutdown')), { qos: 1, retain: true }, () => resolve());
        setTimeout(resolve, 1000).unref();
      });
    }
    await c.endAsync(false).catch(() => undefined);
  }

  private connect(): void {
    if (this.stopped) return;
    const { site, edge } = this.o;
    const client = mqtt.connect(this.o.broker, {
      clientId: `sg-edge-${site}-${edge}`,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      keepalive: 30,
      // mqtt-packet otherwise builds, at the first packet, a 2-byte Buffer for every uint16
      // (65,536 of them: ~6 MB of the idle edge's heap, issue 14) to write packet ids and lengths;
      // without it a publish allocates its few 2-byte numbers, nothing next to a ~125 KB batch.
      writeCache: false,
      username: this.o.username,
      password: this.o.password,
      ...(this.o.ca ? { ca: this.o.ca } : {}),
      will: {
        topic: topics.status(site, edge),
        payload: Buffer.from(JSON.stringify(this.status('offline', 'lwt'))),
        qos: 1,
        retain: true,
      },
    });
    this.client = client;
    // Nagle off (TCP_NODELAY; MQTT.js leaves it on): a batch written while the previous one is
    // still unacknowledged by the broker's TCP waited for that ACK, which the broker's kernel
    // delays (bench/README.md, "Paced latency").
    (client.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
    let lastErr: Error | undefined;
    client.on('connect', () => {
      if (this.client !== client) return;
      const subs = [topics.acks(site, edge), topics.rejects(site, edge)];
      // The cloud's item master comes with the remote config (its own topic: item-master-feed.ts).
      if (this.o.remoteConfig) subs.push(topics.config(site, edge), topics.items(site, edge));
      client.subscribe(subs, { qos: 1 }, (err) => {
        if (err || this.client !== client) {
          if (err) this.emit('error', err);
          client.end(true);
          return;
        }
        this.connected = true;
        this.failures = 0;
        this.stats.connects++;
        this.reconnectDelay = this.o.reconnectMinMs;
        // Everything unacked goes again, oldest first: the cloud dedupes by movement id.
        this.drain.restart();
        this.rowsOffered = this.rowsRefused = this.rowsSentOnThisConnection = false;
        this.publishStatus('connect');
        this.emit('connected');
        clearInterval(this.ackTimer);
        this.ackTimer = setInterval(() => this.checkAckTimeout(), Math.max(100, Math.floor(this.o.ackTimeoutMs / 4)));
        this.ackTimer.unref();
        this.pump();
      });
    });
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
    client.on('error', (err) => {
      lastErr = err;
      this.emit('error', err);
    });
    client.on('close', () => {
      if (this.client !== client) return;
      const was = this.connected;
      if (!was && !this.stopped) this.emit('unreachable', lastErr, ++this.failures);
      this.connected = false;
      clearInterval(this.ackTimer);
      this.client = undefined;
      client.removeAllListeners('message');
      client.end(true);
      if (was) this.emit('disconnected');
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(this.o.reconnectMaxMs, this.reconnectDelay * 2);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private pump(): void {
    if (this.pumping || this.pumpTimer) return;
    this.pumping = true;
    try {
      while (this.connected && this.client && this.drain.room()) {
        let limit = this.o.batchSize;
        if (this.bucket) {
          const now = Date.now();
          const avail = this.bucket.available(now);
          if (avail < 1) {
            // Out of tokens: come back when one batch's worth (or one token) has refilled.
            const wait = this.bucket.waitMs(Math.min(this.o.batchSize, this.bucket.burst), now);
            this.pumpTimer = setTimeout(() => {
              this.pumpTimer = undefined;
              this.pump();
            }, Math.max(1, wait));
            break;
          }
          limit = Math.min(limit, avail);
        }
        const rows = this.rowsOffered && !this.rowsRefused && this.rowsEnvelope !== undefined;
        const batch = this.nextBatch(limit, rows);
        if (!batch) break;
        this.bucket?.take(batch.count, Date.now());
        const { first, last } = batch;
        // The stored JSON (or the stored rows) spliced in as is: no parse/serialise round trip
        // per movement.
        const head = rows
          ? `${this.rowsEnvelope!}"sentAt":"${new Date().toISOString()}","rows":[`
          : `${this.envelope}"sentAt":"${new Date().toISOString()}","movements":[`;
        const buf = this.pool.take(head.length + Buffer.byteLength(batch.json) + 2);
        let n = buf.write(head, 0, 'latin1');
        n += buf.write(batch.json, n, 'utf8');
        n += buf.write(']}', n, 'latin1');
        // The buffer goes back to the pool when the publish completes (PUBACK, or the link closed).
        this.client.publish(this.movementsTopic, buf.subarray(0, n), { qos: 1 }, () => this.pool.give(buf));
        this.drain.sent(first, last);
        this.stats.batchesSent++;
        if (rows) {
          this.stats.rowsBatchesSent++;
          this.rowsSentOnThisConnection = true;
        }
        this.stats.movementsSent += batch.count;
        this.emit('published', first, last);
      }
    } finally {
      this.pumping = false;
    }
  }

  private onMessage(topic: string, payload: Buffer): void {
    if (topic.endsWith('/config')) {
      // The remote config manager validates it (an empty payload clears the retained message).
      this.emit('config', payload);
      return;
    }
    if (topic.endsWith('/items')) {
      this.emit('items', payload); // validated by the item master feed
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch {
      this.emit('error', new Error(`unparseable message on ${topic}`));
      return;
    }
    if (topic.endsWith('/acks')) {
      const ack = Ack.safeParse(body);
      if (!ack.success) return void this.emit('error', new Error(`invalid ack on ${topic}`));
      if (!this.signatureOk(topic, ack.data.sig, (key) => verifyAck(key, this.o.site, ack.data, ack.data.sig))) return;
      // The cloud offers the rows form in every ack to an edge that asks; an ack without it (an
      // older cloud, or one that stopped reading it) means version 1 from the next batch on.
      this.rowsOffered = ack.data.batchVersions?.includes(ROWS_BATCH_VERSION) === true;
      if (ack.data.missing?.length && this.drain.rewind(ack.data.missing[0]![0])) this.stats.resends++;
      // Acks that arrive together are applied in one outbox transaction.
      this.pendingAcks.push(...this.bound(topic, ack.data.ranges));
      if (!this.ackFlush) this.ackFlush = setImmediate(() => this.flushAcks());
    } else if (topic.endsWith('/rejects')) {
      const rej = Reject.safeParse(body);
      if (!rej.success) return void this.emit('error', new Error(`invalid reject on ${topic}`));
      if (!this.signatureOk(topic, rej.data.sig, (key) => verifyReject(key, this.o.site, rej.data, rej.data.sig))) return;
      const ranges = rej.data.ranges ? this.bound(topic, rej.data.ranges) : [];
      if (ranges.length === 0 && this.rowsSentOnThisConnection && !this.rowsRefused && (rej.data.reason === 'UNSUPPORTED_VERSION' || rej.data.reason === 'INVALID_SCHEMA')) {
        // A version 2 batch refused as a whole, naming no seqs (a cloud that does not read it, or
        // an envelope it could not take): nothing left the outbox. Back to version 1 on this
        // connection, and everything unacked goes again at once (the cloud dedupes by id).
        this.rowsRefused = true;
        this.stats.rowsFallbacks++;
        this.stats.resends++;
        this.drain.restart();
      }
      const moved = ranges.length ? this.outbox.reject(ranges, rej.data.reason, rej.data.message) : 0;
      this.stats.rejected += moved;
      this.settle();
      this.emit('rejected', rej.data, moved);
      this.pump();
    }
  }

  /** With an ack key, a message must carry a valid `sig`; else it is dropped and counted. */
  private signatureOk(topic: string, sig: string | undefined, verify: (key: Buffer) => boolean): boolean {
    const key = this.o.ackKey;
    if (!key || verify(key)) return true;
    this.stats.acksBadSignature++;
    this.emit('ackRefused', sig === undefined ? 'unsigned' : 'bad-signature', { topic, highestSent: this.drain.highestSent });
    return false;
  }

  /** Ranges clipped to the highest seq sent; what was cut is counted and reported. */
  private bound(topic: string, ranges: readonly SeqRange[]): SeqRange[] {
    const { kept, cut } = this.drain.bound(ranges);
    if (cut > 0) {
      this.stats.ackSeqsBeyondSent += cut;
      this.emit('ackRefused', 'beyond-sent', { topic, seqs: cut, highestSent: this.drain.highestSent });
    }
    return kept;
  }

  private nextBatch(limit: number, rows: boolean): OutboxBatch | undefined {
    const max = this.o.maxBatchBytes;
    for (;;) {
      const b = rows ? this.outbox.readRows!(this.drain.after, limit) : this.readBatch(limit);
      // O(1) first: a string of n UTF-16 units is at most 3n UTF-8 bytes.
      if (!b || b.count <= 1 || b.json.length * 3 + 256 <= max || Buffer.byteLength(b.json) + 256 <= max) return b;
      limit = Math.max(1, Math.floor(b.count / 2));
    }
  }

  private readBatch(limit: number): OutboxBatch | undefined {
    if (this.outbox.readBatch) return this.outbox.readBatch(this.drain.after, limit);
    const entries = this.outbox.read(this.drain.after, limit);
    if (entries.length === 0) return undefined;
    return { first: entries[0]!.seq, last: entries[entries.length - 1]!.seq, count: entries.length, json: entries.map((e) => e.json).join(',') };
  }

  private flushAcks(): void {
    this.ackFlush = undefined;
    const ranges = this.pendingAcks;
    if (ranges.length === 0) return;
    this.pendingAcks = [];
    let n: number;
    try {
      n = this.outbox.ack(ranges);
    } catch (err) {
      // The outbox was closed under us (shutdown): those entries are resent next time.
      this.emit('error', err as Error);
      return;
    }
    this.stats.acked += n;
    this.settle();
    this.emit('acked', n, ranges);
    this.pump();
  }

  /** Drop in-flight batches that have nothing left in the outbox. */
  private settle(): void {
    this.drain.settle(this.hasAny);
  }

  private readonly hasAny = (first: number, last: number) => this.outbox.hasAny(first, last);

  private checkAckTimeout(): void {
    if (!this.connected) return;
    // No ack in time: the cloud lost the batch (restarted behind a live broker). Resend the
    // window from the oldest unacked seq; duplicates are harmless, the cloud dedupes by id.
    if (!this.drain.expired(this.hasAny)) return;
    this.stats.resends++;
    this.pump();
  }
}
