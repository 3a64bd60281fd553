import { spawn, type ChildProcess } from 'node:child_process';
import { tempDir } from './procs.js';
import { freePort } from '../../bench/free-port.js';

/**
 * A real VictoriaMetrics (Debian `victoria-metrics`) for tests: a free port, its own temp data dir,
 * `-dedup.minScrapeInterval=1ms` so an identical re-sent point is stored once (issue 13).
 * `kill()` is a SIGKILL (what loses its in-memory, acknowledged samples); `start()` again reuses
 * the data dir and port.
 */
export class Victoria {
  child: ChildProcess | undefined;
  readonly dataDir: string;
  port = 0;
  private output = '';

  constructor(readonly bin = process.env.STOCKGATE_TEST_VM ?? '/usr/bin/victoria-metrics') {
    this.dataDir = tempDir('sg-vm-');
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (!this.port) this.port = await freePort();
    this.child = spawn(this.bin, [
      `-httpListenAddr=127.0.0.1:${this.port}`,
      `-storageDataPath=${this.dataDir}`,
      '-dedup.minScrapeInterval=1ms',
      '-retentionPeriod=1',
      '-loggerLevel=ERROR',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => (this.output = (this.output + d.toString()).slice(-8000)));
    this.child.stderr!.on('data', (d: Buffer) => (this.output = (this.output + d.toString()).slice(-8000)));
    const until = Date.now() + 20_000;
    for (;;) {
      if (this.child.exitCode !== null) throw new Error(`victoria-metrics exited ${this.child.exitCode}: ${this.output}`);
      try {
        const r = await fetch(`${this.url}/health`);
        if (r.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > until) throw new Error(`victoria-metrics did not start: ${this.output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGKILL, and wait for the exit. */
  async kill(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  }

  /** Graceful stop (flushes). */
  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGINT');
    const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }

  /** Make recent samples searchable (VictoriaMetrics buffers them for a few seconds). */
  async flush(): Promise<void> {
    await fetch(`${this.url}/internal/force_flush`);
  }

  /** Every sample of the series matching `match`, via /api/v1/export (JSON lines). */
  async export(match: string): Promise<Array<{ metric: Record<string, string>; values: number[]; timestamps: number[] }>> {
    await this.flush();
    const r = await fetch(`${this.url}/api/v1/export?match[]=${encodeURIComponent(match)}&start=0&end=${Math.floor(Date.now() / 1000) + 86_400}`);
    if (!r.ok) throw new Error(`export ${match}: ${r.status} ${await r.text()}`);
    const text = await r.text();
    return text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as { metric: Record<string, string>; values: number[]; timestamps: number[] });
  }
}
