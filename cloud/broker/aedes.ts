import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Aedes, type AedesOptions } from 'aedes';
import type { Bus, BusHandler, PublishOptions, SubscribeOptions } from './bus.js';
import { filterToRegExp } from './topic-filter.js';
import { DEFAULT_MAX_PACKET_BYTES, DEFAULT_PRE_AUTH_BYTES, limitClientPackets, type PacketLimitStats } from './packet-limit.js';

const noop = (): void => undefined;

/** A subscription's flow control (`SubscribeOptions.backpressure`). */
interface Flow {
  filter: RegExp;
  backpressure: (topic: string) => Promise<void> | undefined;
}

/** aedes's own check when no `authorizePublish` hook is given (lib/aedes.js defaultAuthorizePublish). */
const defaultAuthorizePublish: NonNullable<AedesOptions['authorizePublish']> = (_client, packet, done) => done(packet.topic.startsWith('$SYS/') ? new Error('$SYS/ topic is reserved') : null);

/**
 * The parts of aedes's `Client` that flow control uses: `pause()`/`resume()` are public (its
 * CONNECT handling uses them, lib/handlers/connect.js) but missing from its types.
 * `_parsingBatch` counts the packets of the last read still being handled; the next read happens
 * when it reaches 0 (lib/client.js nextBatch).
 */
type PausableClient = { pause(): void; resume(): void; _parsingBatch?: number };

export interface EmbeddedBrokerOptions {
  /** TCP port for MQTT; 0 picks a free one. */
  port: number;
  /** Bind address. Default 127.0.0.1. */
  host?: string;
  /** Hooks for authentication and ACLs (left default in --insecure mode). */
  hooks?: Pick<AedesOptions, 'authenticate' | 'authorizePublish' | 'authorizeSubscribe'>;
  /** Serve MQTT over TLS (mqtts) on `port` with this PEM certificate (chain) and key. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Largest MQTT packet accepted from any client, refused on its fixed header. Default 1 MiB. */
  maxPacketBytes?: number;
  /** Bytes a connection may send before it is authenticated (CONNECT included). Default 4 KiB. */
  preAuthBytes?: number;
}

/**
 * The embedded broker (aedes). The ingester subscribes in-process, so a movement batch reaches
 * the ledger without a second network hop.
 *
 * Note: aedes sends a QoS 1 PUBACK before the message reaches any subscriber
 * (lib/handlers/publish.js). The PUBACK therefore proves nothing about the ledger; edges wait for
 * the application-level ack instead.
 */
export class EmbeddedBroker implements Bus {
  readonly describe: string;
  readonly healthy = true;
  /** Connections closed for a packet over the limits (packet-limit.ts). */
  readonly packetStats: PacketLimitStats;
  private constructor(
    readonly aedes: Aedes,
    readonly server: Server,
    readonly port: number,
    tls: boolean,
    packetStats: PacketLimitStats,
    private readonly flow: Flow[],
  ) {
    this.packetStats = packetStats;
    this.describe = `embedded aedes on :${port}${tls ? ' (mqtts)' : ''}`;
  }

  static async start(opts: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
    // Which clients the authenticator accepted: the packet limits allow them more than a few KB.
    const authenticated = new WeakSet<object>();
    const authenticate: NonNullable<AedesOptions['authenticate']> = opts.hooks?.authenticate ?? ((_c, _u, _p, done) => done(null, true));
    const authorizePublish = opts.hooks?.authorizePublish ?? defaultAuthorizePublish;
    const flow: Flow[] = [];
    const paused = new WeakSet<object>();
    const aedes = await Aedes.createBroker({
      ...opts.hooks,
      // Flow control (SubscribeOptions.backpressure): a publish that a subscription's consumer
      // cannot take more of pauses its client until the consumer says so. A paused aedes client
      // reads no more of its socket, so its next packets stay in the kernel's buffers and TCP
      // pushes back on the publisher; the packets it had already read go on. (Holding the
      // delivery's callback does not stop the reads: aedes reads on each 'readable' event while a
      // packet is pending, and the held packets pile up in mqemitter.)
      authorizePublish: (client, packet, done) =>
        authorizePublish(client, packet, (err) => {
          if (!err && client && flow.length && !paused.has(client)) {
            for (const f of flow) {
              const wait = f.filter.test(packet.topic) ? f.backpressure(packet.topic) : undefined;
              if (!wait) continue;
              const c = client as unknown as PausableClient;
              paused.add(client);
              c.pause();
              void wait.then(() => {
                paused.delete(client);
                // While paused, nextBatch returned early for each packet of that read as it was
                // handled, leaving `_parsingBatch` above 0, and resume() takes off only one: a
                // client that had sent everything already read nothing more (only new bytes on its
                // socket, a 'readable' event each, count it down; backpressure.test.ts stalls at
                // half the flood without this line). Every packet of that read has long been
                // handled by now (the queue went down to half its bound meanwhile), so the next
                // read is due.
                if (typeof c._parsingBatch === 'number') c._parsingBatch = 1;
                c.resume();
              });
              break;
            }
          }
          done(err ?? null);
        }),
      authenticate: (client, username, password, done) =>
        authenticate(client, username, password, (err, ok) => {
          if (!err && ok) authenticated.add(client);
          done(err, ok);
        }),
      // A frozen client must not stall delivery to everyone else for the default 60 s.
      drainTimeout: 10_000,
    });
    const limits = { maxPacketBytes: opts.maxPacketBytes ?? DEFAULT_MAX_PACKET_BYTES, preAuthBytes: opts.preAuthBytes ?? DEFAULT_PRE_AUTH_BYTES };
    const packetStats: PacketLimitStats = { refusedTooLarge: 0, refusedPreAuth: 0 };
    // Every connection's parser is limited before its first byte is read (issue 8, finding 4).
    const handle = (conn: Socket) => {
      // Nagle off (TCP_NODELAY): the application ack of a commit is written a few ms after the
      // PUBACK of the batch it acks; with Nagle on it waited for the edge's TCP ACK of that PUBACK,
      // i.e. for the edge's next packet (its next batch, ~10 ms when paced; bench/README.md, paced
      // latency). The edge's side has had it since f949a4e (edge/publisher.ts).
      conn.setNoDelay(true);
      const client = aedes.handle(conn);
      if (!limitClientPackets(client, limits, packetStats, (c) => authenticated.has(c as object))) conn.destroy(new Error('aedes internals changed: packet limits cannot be applied'));
    };
    const server = opts.tls ? createTlsServer({ cert: opts.tls.cert, key: opts.tls.key }, handle) : createServer(handle);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host ?? '127.0.0.1', () => resolve());
    });
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : opts.port;
    return new EmbeddedBroker(aedes, server, port, Boolean(opts.tls), packetStats, flow);
  }

  subscribe(filter: string, handler: BusHandler, opts: SubscribeOptions = {}): Promise<void> {
    if (opts.backpressure) this.flow.push({ filter: filterToRegExp(filter), backpressure: opts.backpressure });
    return new Promise((resolve) =>
      this.aedes.subscribe(
        filter,
        (packet, cb) => {
          try {
            handler(packet.topic, packet.payload as Buffer, noop);
          } finally {
            cb();
          }
        },
        resolve,
      ),
    );
  }

  publish(topic: string, payload: string | Buffer, opts: PublishOptions = {}): Promise<void> {
    return new Promise((resolve, reject) =>
      this.aedes.publish(
        { cmd: 'publish', topic, payload: typeof payload === 'string' ? Buffer.from(payload) : payload, qos: opts.qos ?? 1, retain: opts.retain ?? false, dup: false },
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
