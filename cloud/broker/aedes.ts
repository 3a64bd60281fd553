import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Aedes, type AedesOptions } from 'aedes';
import type { Bus, BusHandler, PublishOptions } from './bus.js';
import { DEFAULT_MAX_PACKET_BYTES, DEFAULT_PRE_AUTH_BYTES, limitClientPackets, type PacketLimitStats } from './packet-limit.js';

const noop = (): void => undefined;

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
  ) {
    this.packetStats = packetStats;
    this.describe = `embedded aedes on :${port}${tls ? ' (mqtts)' : ''}`;
  }

  static async start(opts: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
    // Which clients the authenticator accepted: the packet limits allow them more than a few KB.
    const authenticated = new WeakSet<object>();
    const authenticate: NonNullable<AedesOptions['authenticate']> = opts.hooks?.authenticate ?? ((_c, _u, _p, done) => done(null, true));
    const aedes = await Aedes.createBroker({
      ...opts.hooks,
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
    return new EmbeddedBroker(aedes, server, port, Boolean(opts.tls), packetStats);
  }

  subscribe(filter: string, handler: BusHandler): Promise<void> {
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
