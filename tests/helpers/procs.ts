import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const ROOT = join(import.meta.dirname, '..', '..');
export const BIN = join(ROOT, 'bin', 'stockgate.js');

/** Throw a clear message when dist/ is missing (run `npm run build`, which `npm test` does). */
export function requireBuild(): void {
  if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
}

/** Run `stockgate <args>` to completion (one-shot commands: decode, --help, config errors). */
export function runStockgate(args: string[], env: Record<string, string> = {}, timeoutMs = 30_000): SpawnSyncReturns<string> {
  requireBuild();
  return spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env }, timeout: timeoutMs });
}

export function tempDir(prefix = 'sg-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A unique id usable as site or edge id, so tests sharing a broker never see each other. */
export function uniqueId(prefix: string): string {
  return `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

export interface Proc {
  child: ChildProcess;
  /** The `{"event":"ready",...}` line. */
  ready: Record<string, unknown>;
  /** Parsed JSON log lines from stderr so far. */
  logs: Array<Record<string, unknown>>;
  /** Raw stderr text so far (non-JSON lines too). */
  stderr: () => string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Spawn `stockgate <args>` and wait for its ready line on stdout. Logs (stderr, JSON lines) are
 * collected for assertions.
 */
export async function spawnStockgate(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<Proc> {
  requireBuild();
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, STOCKGATE_LOG_LEVEL: 'info', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  let errText = '';
  createInterface({ input: child.stderr! }).on('line', (line) => {
    errText += `${line}\n`;
    try {
      logs.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      /* not JSON */
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`stockgate ${args[0]} not ready within ${opts.timeoutMs ?? 20000} ms\n${errText}`)), opts.timeoutMs ?? 20000);
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      try {
        const v = JSON.parse(line) as Record<string, unknown>;
        if (v.event === 'ready') {
          clearTimeout(timer);
          resolve(v);
        }
      } catch {
        /* human output */
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`stockgate ${args[0]} exited with ${code} before ready\n${errText}`));
    });
  });
  return {
    child,
    ready,
    logs,
    stderr: () => errText,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

export interface CloudProc extends Proc {
  mqttPort: number;
  httpPort: number;
  url: string;
}

export async function startCloudProc(o: { dataDir: string; mqttPort?: number; httpPort?: number; broker?: string; sites?: string[]; store?: string }): Promise<CloudProc> {
  const args = ['cloud', '--data-dir', o.dataDir, '--mqtt-port', String(o.mqttPort ?? 0), '--http-port', String(o.httpPort ?? 0), '--insecure'];
  if (o.broker) args.push('--broker', o.broker);
  if (o.sites) args.push('--site', ...o.sites);
  if (o.store) args.push('--store', o.store);
  const p = await spawnStockgate(args);
  const httpPort = p.ready.httpPort as number;
  return { ...p, mqttPort: (p.ready.mqttPort as number) ?? 0, httpPort, url: `http://127.0.0.1:${httpPort}` };
}

export async function startEdgeProc(o: {
  dataDir: string;
  broker: string;
  site: string;
  edgeId: string;
  location?: string;
  devices: string[];
  extra?: string[];
}): Promise<Proc> {
  const args = ['edge', '--data-dir', o.dataDir, '--broker', o.broker, '--site', o.site, '--edge-id', o.edgeId, '--location', o.location ?? 'DOCK-1', '--mode', 'receive'];
  for (const d of o.devices) args.push('--device', d);
  args.push('--ack-timeout-ms', '3000', ...(o.extra ?? []));
  return spawnStockgate(args);
}

export async function getJson<T = any>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Poll until `fn` returns a truthy value; throws with the last value/error after the timeout. */
export async function waitFor<T>(fn: () => Promise<T> | T, what: string, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Sum of onHand per sku for a site, from the REST API. */
export async function stockBySku(url: string, site: string): Promise<Record<string, number>> {
  const { items } = await getJson<{ items: Array<{ sku: string; onHand: number }> }>(`${url}/api/v1/stock?site=${site}`);
  const out: Record<string, number> = {};
  for (const i of items) out[i.sku] = Math.round(((out[i.sku] ?? 0) + i.onHand) * 1e6) / 1e6;
  return out;
}

/** Highest seq the edge logged as committed to its outbox. */
export function recordedSeq(p: Proc): number {
  let max = 0;
  for (const l of p.logs) if (l.msg === 'movement recorded' && typeof l.seq === 'number' && l.seq > max) max = l.seq;
  return max;
}

/**
 * Two `stockgate cloud` ingesters in one Mosquitto shared-subscription group (`g-{site}`) on one
 * PostgreSQL store, started at once (their migrations serialise on the advisory lock): the
 * scale-out and the board-across-ingesters tests.
 */
export function spawnSharedIngesters(dir: string, site: string, broker: string, storeUrl: string): Promise<Proc[]> {
  return Promise.all(
    [0, 1].map((n) =>
      spawnStockgate(
        ['cloud', '--data-dir', join(dir, `cloud-${n}`), '--mqtt-port', '0', '--http-port', '0', '--insecure', '--broker', broker, '--site', site,
          '--store', storeUrl, '--shared-group', `g-${site}`, '--client-id', `${site}-ingester-${n}`],
        { env: { STOCKGATE_LOG_LEVEL: 'warn' } },
      ),
    ),
  );
}
