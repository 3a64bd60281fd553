import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { freePort } from '../free-port.js';

/**
 * A NATS cluster of `size` nodes (Debian `nats-server`), JetStream and MQTT on every node, all on
 * free loopback ports, configs and stores in `dir` (issue 14 §5). Used by the NATS node-loss test,
 * the chaos suite and the bench; never touches the machine's own NATS on 4222.
 */
export interface NatsNode {
  name: string;
  clientPort: number;
  clusterPort: number;
  mqttPort: number;
  /** Monitoring port (`/healthz`: JetStream ready). */
  httpPort: number;
  config: string;
  proc?: ChildProcess;
}

export const NATS_SERVER = process.env.STOCKGATE_NATS_SERVER ?? '/usr/sbin/nats-server';

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = tcpConnect({ host: '127.0.0.1', port });
    c.once('connect', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
  });
}

async function healthy(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) });
    return res.ok;
  } catch {
    return false;
  }
}

export class NatsCluster {
  private constructor(readonly dir: string, readonly nodes: NatsNode[]) {}

  /**
   * Starts the cluster; a node that does not come up (its process exited, or no JetStream within
   * the timeout) makes the whole cluster start again on fresh ports, once. The ports are picked
   * free but handed to nats-server later, so under a loaded CI run another test can take one in
   * between; and on a busy 2-core machine the meta leader election can take longer than usual.
   */
  static async start(dir: string, size = 3, attempts = 2): Promise<NatsCluster> {
    for (let attempt = 1; ; attempt++) {
      const c = await NatsCluster.startOnce(join(dir, attempt === 1 ? '' : `retry-${attempt}`), size);
      try {
        const until = Date.now() + 40_000;
        for (let i = 0; i < size; i++) await c.waitUp(i, Math.max(1000, until - Date.now()));
        return c;
      } catch (err) {
        await c.stop();
        if (attempt >= attempts) throw err;
        process.stderr.write(`nats cluster: ${(err as Error).message}; starting again on fresh ports\n`);
      }
    }
  }

  private static async startOnce(dir: string, size: number): Promise<NatsCluster> {
    mkdirSync(dir, { recursive: true });
    const nodes: NatsNode[] = [];
    for (let i = 0; i < size; i++) {
      nodes.push({ name: `n${i + 1}`, clientPort: await freePort(), clusterPort: await freePort(), mqttPort: await freePort(), httpPort: await freePort(), config: join(dir, `n${i + 1}.conf`) });
    }
    for (const n of nodes) {
      const store = join(dir, n.name, 'js');
      mkdirSync(store, { recursive: true });
      const routes = nodes.filter((o) => o !== n).map((o) => `nats-route://127.0.0.1:${o.clusterPort}`);
      writeFileSync(
        n.config,
        [
          // server_name is required for MQTT with JetStream in a cluster.
          `server_name: ${n.name}`,
          `listen: 127.0.0.1:${n.clientPort}`,
          `jetstream { store_dir: "${store}" }`,
          `cluster { name: stockgate, listen: 127.0.0.1:${n.clusterPort}, routes: [${routes.join(', ')}] }`,
          // The MQTT sessions' own streams: R3 explicitly. Left alone, the server sizes them from
          // the routes it sees when the first client connects (R2 here when one route is late),
          // and an R2 stream loses its quorum with one node: MQTT CONNECTs then time out.
          `mqtt { listen: 127.0.0.1:${n.mqttPort}, stream_replicas: ${size}, consumer_replicas: ${size} }`,
          `http: 127.0.0.1:${n.httpPort}`,
          `log_file: "${join(dir, `${n.name}.log`)}"`,
          '',
        ].join('\n'),
      );
    }
    const c = new NatsCluster(dir, nodes);
    for (let i = 0; i < size; i++) c.startNode(i);
    return c;
  }

  /** `nats://...` of every node, comma-separated (the `--nats` value). */
  get natsUrls(): string {
    return this.nodes.map((n) => `nats://127.0.0.1:${n.clientPort}`).join(',');
  }

  startNode(i: number): void {
    const n = this.nodes[i]!;
    if (n.proc && n.proc.exitCode === null && n.proc.signalCode === null) return;
    n.proc = spawn(NATS_SERVER, ['-c', n.config], { stdio: ['ignore', 'ignore', 'ignore'] });
  }

  /** Listening (and with `healthy`, JetStream ready: `/healthz` 200). */
  async waitUp(i: number, timeoutMs = 20_000, healthyToo = true): Promise<void> {
    const n = this.nodes[i]!;
    const deadline = Date.now() + timeoutMs;
    // Listening is not enough: JetStream needs its meta leader and the node its streams current.
    while (!(await accepts(n.clientPort)) || !(await accepts(n.mqttPort)) || (healthyToo && !(await healthy(n.httpPort)))) {
      const p = n.proc;
      if (p && (p.exitCode !== null || p.signalCode !== null)) throw new Error(`nats-server ${n.name} exited (${p.exitCode ?? p.signalCode}) before it was up (${n.config}): ${this.logTail(n)}`);
      if (Date.now() > deadline) throw new Error(`nats-server ${n.name} not listening within ${timeoutMs} ms (${n.config}): ${this.logTail(n)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The last lines of a node's log, for an error that says why it did not come up. */
  private logTail(n: NatsNode): string {
    try {
      return readFileSync(join(this.dir, `${n.name}.log`), 'utf8').trimEnd().split('\n').slice(-5).join(' | ');
    } catch {
      return '(no log)';
    }
  }

  async killNode(i: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.nodes[i]!.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await exited;
  }

  async restartNode(i: number): Promise<void> {
    await this.killNode(i);
    this.startNode(i);
    await this.waitUp(i);
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((_, i) => this.killNode(i, 'SIGTERM')));
  }
}
