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
 * - `half-open`: every live connection loses its broker end (the broker sees it close) while the
 *   client gets no FIN or RST: its socket looks open, what it writes goes nowhere, nothing comes
 *   back; only its keepalive can tell (new connections pass);
 * - `blackhole`: nothing flows either way, no FIN, no RST, new connections hang too; the bytes
 *   come through once healed, as TCP's retransmissions would deliver them;
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
  connected: boolean;
  /** The broker's end was dropped without telling the client (`half-open`). */
  halfOpen: boolean;
}

/** Ordered delivery with an optional per-chunk wait (delay, loss stall, black hole). */
class Lane {
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;
  constructor(private readonly proxy: FaultProxy, private readonly pipe: Pipe, private readonly upstream: boolean) {}

  push(chunk: Buffer): void {
    const p = this.proxy;
    // The broker side of a half-open connection is gone: what the client sends goes nowhere.
    if (this.pipe.halfOpen) return;
    const to = this.upstream ? this.pipe.server : this.pipe.client;
    let wait: (() => Promise<void>) | undefined;
    if (p.mode === 'blackhole') {
      // Packets vanish, the sender's TCP keeps retransmitting: the bytes arrive once the path is back.
      wait = () => p.healed();
      p.stats.heldChunks++;
    } else if (p.mode === 'delay') {
      const ms = p.delayMs;
      wait = () => new Promise((r) => setTimeout(r, ms));
    } else if (p.mode === 'loss' && Math.random() < p.lossRate) {
      const ms = p.rtoMs;
      wait = () => new Promise((r) => setTimeout(r, ms));
      p.stats.lostChunks++;
    }
    if (!wait && this.pending === 0) {
      if (!to.destroyed) to.write(chunk);
      return;
    }
    this.pending++;
    this.chain = this.chain.then(async () => {
      if (wait) await wait();
      this.pending--;
      if (!to.destroyed) to.write(chunk);
    });
  }
}

export class FaultProxy {
  mode: FaultMode = 'pass';
  delayMs = 200;
  lossRate = 0.05;
  rtoMs = 300;
  readonly stats = { connections: 0, refused: 0, lostChunks: 0, heldChunks: 0, halfOpened: 0 };
  private heal: { promise: Promise<void>; resolve: () => void } | undefined;
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
    if (mode === 'blackhole' && !this.heal) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.heal = { promise, resolve };
    }
    if (mode !== 'blackhole' && this.heal) {
      this.heal.resolve();
      this.heal = undefined;
    }
    if (mode === 'half-open') {
      for (const p of this.pipes) {
        if (p.halfOpen) continue;
        p.halfOpen = true;
        this.stats.halfOpened++;
        p.server.destroy();
      }
      this.mode = 'pass';
    }
    if (opts.delayMs !== undefined) this.delayMs = opts.delayMs;
    if (opts.lossRate !== undefined) this.lossRate = opts.lossRate;
    if (opts.rtoMs !== undefined) this.rtoMs = opts.rtoMs;
    if (mode === 'refuse') this.cutAll();
  }

  /** Resolves when a black hole ends. */
  healed(): Promise<void> {
    return this.heal?.promise ?? Promise.resolve();
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
    const pipe: Pipe = { client, server, connected: false, halfOpen: false };
    server.once('error', () => {
      server.destroy();
      if (!pipe.connected) this.dial(client, tried + 1);
    });
    server.once('connect', () => {
      pipe.connected = true;
      this.pipes.add(pipe);
      server.setNoDelay(true);
      client.setNoDelay(true);
      const up = new Lane(this, pipe, true);
      const down = new Lane(this, pipe, false);
      client.on('data', (c: Buffer) => up.push(c));
      server.on('data', (c: Buffer) => down.push(c));
      client.on('close', () => {
        server.destroy();
        this.pipes.delete(pipe);
      });
      server.on('close', () => {
        // Half-open: the client must not learn that its broker end is gone.
        if (pipe.halfOpen) return;
        const close = () => {
          client.destroy();
          this.pipes.delete(pipe);
        };
        // In a black hole even the FIN waits until the path is back.
        if (this.mode === 'blackhole') void this.healed().then(close);
        else close();
      });
      client.resume();
    });
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
