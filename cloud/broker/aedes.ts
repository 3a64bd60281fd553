import { createServer, type Server } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Aedes, type AedesOptions } from 'aedes';
import type { Bus, BusHandler, PublishOptions } from './bus.js';

export interface EmbeddedBrokerOptions {
  /** TCP port for MQTT; 0 picks a free one. */
  port: number;
  /** Bind address. Default 127.0.0.1. */
  host?: string;
  /** Hooks for authentication and ACLs (left default in --insecure mode). */
  hooks?: Pick<AedesOptions, 'authenticate' | 'authorizePublish' | 'authorizeSubscribe'>;
  /** Serve MQTT over TLS (mqtts) on `port` with this PEM certificate (chain) and key. */
  tls?: { cert: string | Buffer; key: string | Buffer };
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
  private constructor(
    readonly aedes: Aedes,
    readonly server: Server,
    readonly port: number,
    tls = false,
  ) {
    this.describe = `embedded aedes on :${port}${tls ? ' (mqtts)' : ''}`;
  }

  static async start(opts: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
    const aedes = await Aedes.createBroker({
      ...opts.hooks,
      // A frozen client must not stall delivery to everyone else for the default 60 s.
      drainTimeout: 10_000,
    });
    const server = opts.tls ? createTlsServer({ cert: opts.tls.cert, key: opts.tls.key }, aedes.handle) : createServer(aedes.handle);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host ?? '127.0.0.1', () => resolve());
    });
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : opts.port;
    return new EmbeddedBroker(aedes, server, port, Boolean(opts.tls));
  }

  subscribe(filter: string, handler: BusHandler): Promise<void> {
    return new Promise((resolve) =>
      this.aedes.subscribe(
        filter,
        (packet, cb) => {
          try {
            handler(packet.topic, packet.payload as Buffer);
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
