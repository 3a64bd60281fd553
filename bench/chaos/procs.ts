import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { packageRoot } from '../../cloud/paths.js';
import { SqliteOutbox } from '../../edge/outbox/sqlite.js';

/** Processes the chaos suite starts, kills and restarts (issue 14 §4). */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export { sleep };

async function exitOf(p: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill(signal);
  await exited;
}

/** `stockgate cloud` on FIXED ports (so edges find it again after a SIGKILL). */
export class CloudProc {
  proc: ChildProcess | undefined;
  stderrTail = '';
  constructor(readonly args: string[], readonly httpPort: number, readonly mqttPort: number | undefined) {}

  async start(timeoutMs = 60_000): Promise<void> {
    const args = [join(packageRoot(), 'bin', 'stockgate.js'), 'cloud', '--http-port', String(this.httpPort), '--insecure', ...(this.mqttPort !== undefined ? ['--mqtt-port', String(this.mqttPort)] : []), ...this.args];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, STOCKGATE_LOG_LEVEL: process.env.STOCKGATE_CHAOS_LOG_LEVEL ?? 'error' } });
    this.proc = child;
    createInterface({ input: child.stderr! }).on('line', (l) => (this.stderrTail = (this.stderrTail + l + '\n').slice(-4000)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`cloud not ready in ${timeoutMs} ms: ${this.stderrTail}`)), timeoutMs);
      createInterface({ input: child.stdout! }).on('line', (l) => {
        if (l.includes('"event":"ready"')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (c) => {
        clearTimeout(timer);
        reject(new Error(`cloud exited ${c} before ready: ${this.stderrTail}`));
      });
    });
  }

  get alive(): boolean {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return exitOf(this.proc, signal);
  }

  /** Start again, retrying while the old port is still in TIME_WAIT or the database recovers. */
  async restart(): Promise<void> {
    for (let i = 0; ; i++) {
      try {
        await this.start();
        return;
      } catch (err) {
        if (i >= 10) throw err;
        await sleep(500);
      }
    }
  }
}

export interface EdgeSpec {
  name: string;
  broker: string;
  site: string;
  dir: string;
  rate: number;
  clockOffsetMs?: number;
  /** Run inside this network namespace (`ip netns exec`). */
  netns?: string;
}

/** One chaos edge (bench/chaos/edge-child.ts) as its own process. */
export class EdgeProc {
  proc: ChildProcess | undefined;
  last = { lastSeq: 0, backlog: 0, rejected: 0, appending: true };
  /** Told to stop appending (SIGUSR2), also after a restart. */
  finishing = false;
  constructor(readonly spec: EdgeSpec) {}

  get db(): string {
    return join(this.spec.dir, `${this.spec.name}.db`);
  }

  start(): void {
    const s = this.spec;
    const node = [process.execPath, join(packageRoot(), 'dist', 'bench', 'chaos', 'edge-child.js'),
      '--broker', s.broker, '--site', s.site, '--edge', s.name, '--db', this.db, '--rate', String(s.rate),
      `--clock-offset-ms=${s.clockOffsetMs ?? 0}`];
    const [cmd, ...args] = s.netns ? ['ip', 'netns', 'exec', s.netns, ...node] : node;
    const child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    this.proc = child;
    if (this.finishing) setTimeout(() => child.kill('SIGUSR2'), 300);
    createInterface({ input: child.stdout! }).on('line', (l) => {
      try {
        const v = JSON.parse(l);
        if (v.event === 'progress') this.last = v;
      } catch {
        /* ignore */
      }
    });
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return exitOf(this.proc, signal);
  }

  /** Stop appending; the outbox drains. */
  finish(): void {
    this.finishing = true;
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGUSR2');
  }

  get done(): boolean {
    return this.finishing && !this.last.appending && this.last.backlog === 0;
  }

  /** Its outbox as it is on disk (after the process is gone): sent seqs, still unacked, refused. */
  final(): { lastSeq: number; backlog: number; rejected: number } {
    const o = new SqliteOutbox({ path: this.db, site: this.spec.site, edge: this.spec.name });
    try {
      return { lastSeq: o.lastSeq(), backlog: o.backlog().count, rejected: o.rejected(10_000_000).length };
    } finally {
      o.close();
    }
  }
}

/** A Mosquitto of our own on a free port (never the machine's 1883). */
export class MosquittoProc {
  proc: ChildProcess | undefined;
  constructor(readonly conf: string, readonly port: number) {}
  static create(dir: string, port: number): MosquittoProc {
    const conf = join(dir, 'mosquitto.conf');
    execFileSync('sh', ['-c', `printf 'listener ${port} 127.0.0.1\\nallow_anonymous true\\npersistence false\\nmax_queued_messages 100000\\n' > '${conf}'`]);
    return new MosquittoProc(conf, port);
  }
  start(): void {
    this.proc = spawn('/usr/sbin/mosquitto', ['-c', this.conf], { stdio: 'ignore' });
  }
  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return exitOf(this.proc, signal);
  }
}

/** A PostgreSQL of our own: initdb + pg_ctl on a free port, run as the postgres user (initdb refuses root). */
export class PostgresProc {
  constructor(readonly dir: string, readonly port: number, readonly bin: string) {}

  static findBin(): string {
    const out = execFileSync('sh', ['-c', 'ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1']).toString().trim();
    if (!out) throw new Error('no PostgreSQL binaries under /usr/lib/postgresql/*/bin');
    return out;
  }

  private as(cmd: string, args: string[]): void {
    const asRoot = process.getuid?.() === 0;
    if (asRoot) execFileSync('runuser', ['-u', 'postgres', '--', join(this.bin, cmd), ...args], { stdio: 'ignore' });
    else execFileSync(join(this.bin, cmd), args, { stdio: 'ignore' });
  }

  static async create(dir: string, port: number): Promise<PostgresProc> {
    mkdirSync(dir, { recursive: true });
    if (process.getuid?.() === 0) {
      const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
      const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
      chownSync(dir, uid, gid);
    }
    const p = new PostgresProc(dir, port, PostgresProc.findBin());
    p.as('initdb', ['-D', join(dir, 'data'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    p.start();
    return p;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  start(): void {
    this.as('pg_ctl', ['-D', join(this.dir, 'data'), '-l', join(this.dir, 'log'), '-w', '-o', `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1`, 'start']);
  }

  /** Crash-like: `-m immediate` (no checkpoint: WAL recovery on the next start). */
  stopImmediate(): void {
    this.as('pg_ctl', ['-D', join(this.dir, 'data'), '-m', 'immediate', '-w', 'stop']);
  }

  stop(): void {
    try {
      this.as('pg_ctl', ['-D', join(this.dir, 'data'), '-m', 'fast', '-w', 'stop']);
    } catch {
      /* already down */
    }
  }
}
