import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

/**
 * A fault-injecting TCP proxy (issue 14 §4). This kernel has no `netem`, so `tc` cannot delay or
 * drop packets; the proxy does it at the byte-stream level, between an edge and its broker:
 *
 * - `pass`: forward both ways;
 * - `delay`: every chunk waits `delayMs` (both directions, order kept);
 * - `loss`: a chunk is "lost" with probability `lossRate` and comes through only after a
 *   retransmission timeout (`rtoMs`), holding back what follows it: what TCP makes of packet loss
 *   (a stream never loses bytes, it stalls);
 * - `half-open`: the broker's side stops reaching the client (its bytes are discarded) while the
 *   client's bytes still flow: the client sees a live socket that never answers;
 * - `blackhole`: nothing flows either way, no FIN, no RST: the sockets stay open and silent;
 * - `refuse`: new connections are closed at once, live ones are destroyed (a dead host with RST).
 *
 * It is also the edges' load balancer in front of a NATS cluster: each new connection goes to the
 * next upstream that accepts it, so an edge with one broker URL reaches any live node.
 */
export type FaultMode = 'pass' | 'delay' | 'loss' | 'half-open' | 'blackhole' | 'refuse';

export interface Upstream {
  host: string;
  port: number;
}

export interface FaultProxyOptions {
  upstreams: Upstream[];
  /** Listen port; 0 = any free port. */
  port?: number;
  host?: string;
}

interface Pipe {
  client: Socket;
  server: Socket;
}

/** Ordered delivery with an optional per-chunk wait (delay or loss stall). */
class Lane {
  private chain: Promise<void> = Promise.resolve();
  constructor(private readonly proxy: FaultProxy, private readonly to: Socket, private readonly upstream: boolean) {}

  push(chunk: Buffer): void {
    const p = this.proxy;
    const mode = p.mode;
    if (mode === 'blackhole') return;
    if (mode === 'half-open' && !this.upstream) return;
    let wait = 0;
    if (mode === 'delay') wait = p.delayMs;
    if (mode === 'loss' && Math.random() < p.lossRate) {
      wait = p.rtoMs;
      p.stats.lostChunks++;
    }
    if (wait === 0 && this.idle) {
      if (!this.to.destroyed) this.to.write(chunk);
      return;
    }
    this.pending++;
    this.chain = this.chain.then(async () => {
      if (wait) await new Promise((r) => setTimeout(r, wait));
      this.pending--;
      if (!this.to.destroyed) this.to.write(chunk);
    });
  }

  private pending = 0;
  private get idle(): boolean {
    return this.pending === 0;
  }
}

export class FaultProxy {
  mode: FaultMode = 'pass';
  delayMs = 200;
  lossRate = 0.05;
  rtoMs = 300;
  readonly stats = { connections: 0, refused: 0, lostChunks: 0 };
  private server!: Server;
  private readonly pipes = new Set<Pipe>();
  private next = 0;
  port = 0;

  private constructor(private readonly o: FaultProxyOptions) {}

  static async start(o: FaultProxyOptions): Promise<FaultProxy> {
    const p = new FaultProxy(o);
    p.server = createServer((c) => p.accept(c));
    await new Promise<void>((resolve, reject) => {
      p.server.once('error', reject);
      p.server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => resolve());
    });
    const a = p.server.address();
    p.port = typeof a === 'object' && a ? a.port : 0;
    return p;
  }

  /** Switch the fault; `refuse` also cuts every live connection (RST), `pass` heals the rest. */
  set(mode: FaultMode, opts: { delayMs?: number; lossRate?: number; rtoMs?: number } = {}): void {
    this.mode = mode;
    if (opts.delayMs !== undefined) this.delayMs = opts.delayMs;
    if (opts.lossRate !== undefined) this.lossRate = opts.lossRate;
    if (opts.rtoMs !== undefined) this.rtoMs = opts.rtoMs;
    if (mode === 'refuse') this.cutAll();
  }

  /** Destroy every live connection (as a peer's RST would). */
  cutAll(): void {
    for (const p of this.pipes) {
      p.client.destroy();
      p.server.destroy();
    }
    this.pipes.clear();
  }

  get live(): number {
    return this.pipes.size;
  }

  private accept(client: Socket): void {
    if (this.mode === 'refuse') {
      this.stats.refused++;
      client.destroy();
      return;
    }
    // A black hole swallows the SYN's successor: the connection is accepted and then says nothing.
    this.stats.connections++;
    client.pause();
    client.on('error', () => undefined);
    this.dial(client, 0);
  }

  private dial(client: Socket, tried: number): void {
    const ups = this.o.upstreams;
    if (tried >= ups.length || client.destroyed) {
      client.destroy();
      return;
    }
    const u = ups[this.next++ % ups.length]!;
    const server = tcpConnect({ host: u.host, port: u.port });
    server.once('error', () => {
      server.destroy();
      if (!pipe.connected) this.dial(client, tried + 1);
      else {
        client.destroy();
        this.pipes.delete(pipe);
      }
    });
    const pipe: Pipe & { connected: boolean } = { client, server, connected: false };
    server.once('connect', () => {
      pipe.connected = true;
      this.pipes.add(pipe);
      server.setNoDelay(true);
      client.setNoDelay(true);
      const up = new Lane(this, server, true);
      const down = new Lane(this, client, false);
      client.on('data', (c: Buffer) => up.push(c));
      server.on('data', (c: Buffer) => down.push(c));
      const end = () => {
        // In a black hole or half-open state the far side's FIN must not reach the other side either.
        if (this.mode === 'blackhole') return;
        client.destroy();
        server.destroy();
        this.pipes.delete(pipe);
      };
      client.on('close', end);
      server.on('close', end);
      client.resume();
    });
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
