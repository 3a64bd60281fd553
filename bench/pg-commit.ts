/**
 * Section `pgCommit` (`--pg-commit`): the PostgreSQL store's group commit alone, in this process
 * (no broker, no edges, no follower), so CPU time splits cleanly between node and PostgreSQL.
 * Commits shaped like the `pg` section's (4 edges, 500-movement batches, receipts of 1,000 SKUs
 * at 4 docks: every commit increments the same 4,000 balance rows), one writer, one at a time.
 * Reports per ledger row: this process's CPU (the store's JS and the pg driver), the PostgreSQL
 * backends' CPU (/proc/<pid>/schedstat of the pool's backends, found by application_name: only
 * when PostgreSQL runs on this machine), and per statement its wall time and backend CPU.
 * Also `backendCpu`, the same measure for the `pg` section's ingesters (bench/ingest.ts).
 */
import pg from 'pg';
import type { Movement } from '../protocols/mqtt/index.js';
import type { CommitBatch } from '../cloud/store/store.js';
import { PostgresStore } from '../cloud/store/postgres.js';
import { round1, schedOf } from './common.js';
import type { BenchSection } from './section.js';

/** A backend's CPU so far, ns (`schedOf`); NaN when it has no /proc entry (PostgreSQL elsewhere). */
const ranNs = (pid: number): number => schedOf(pid).runNs || Number.NaN;

export const pgCommitSection: BenchSection = {
  name: 'pgCommit',
  about: 'PostgreSQL store group commit alone: node vs backend CPU per ledger row, per statement',
  byDefault: false,
  options: {
    'pg-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/test' },
    'pg-commit-groups': { type: 'string', default: '20' },
    'pg-commit-rows': { type: 'string', default: '4000' },
  },
  async run(ctx) {
    const url = String(ctx.flags['pg-url']);
    const groups = Number(ctx.flags['pg-commit-groups']);
    const per = Number(ctx.flags['pg-commit-rows']);
    const tag = Math.random().toString(36).slice(2, 8);
    const schema = `sg_bench_commit_${tag}`;
    const app = `sg-bench-commit-${tag}`;
    const admin = new pg.Pool({ connectionString: url, max: 1 });
    const store = await PostgresStore.open({ url: `${url}${url.includes('?') ? '&' : '?'}application_name=${app}`, schema, maxConnections: 4 });
    const site = `bench-commit-${tag}`;
    const seqs = [0, 0, 0, 0];
    let n = 0;
    const group = (): CommitBatch[] =>
      Array.from({ length: Math.ceil(per / 500) }, (_, b) => {
        const edge = b % 4;
        const movements: Movement[] = Array.from({ length: 500 }, () => {
          const seq = ++seqs[edge]!;
          const sku = `SKU-${n++ % 1000}`;
          return { v: 1, id: `C${tag}${edge}x${String(seq).padStart(10, '0')}`, edge: `edge-${edge}`, seq, site, ts: new Date().toISOString(), location: `DOCK-${edge}`, kind: 'receive', sku, qty: 1, uom: 'ea', operator: 'W-1024', device: { id: 'dock1', type: 'scanner' }, raw: `]C0${sku}` } as Movement;
        });
        return { movements, deadLetters: [] };
      });
    // Per statement (its prepared name, or its first words): calls, wall ms, backend CPU ms.
    const stats = new Map<string, { n: number; ms: number; pgMs: number }>();
    const query = pg.Client.prototype.query;
    try {
      for (let w = 0; w < 3; w++) await store.commit(group()); // warm: statements prepared, rows exist
      const pids = (await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [app])).rows.map((r) => r.pid);
      const work = Array.from({ length: groups }, group);
      pg.Client.prototype.query = function (this: pg.Client & { processID?: number }, cfg: unknown, ...rest: unknown[]) {
        const c = cfg as string | { name?: string; text: string };
        const name = typeof c === 'string' ? c.slice(0, 30) : (c.name ?? c.text.slice(0, 30));
        const t0 = performance.now();
        const r0 = this.processID ? ranNs(this.processID) : Number.NaN;
        const p = (query as (...a: unknown[]) => unknown).call(this, cfg, ...rest) as Promise<unknown> | undefined;
        const done = () => {
          const s = stats.get(name) ?? stats.set(name, { n: 0, ms: 0, pgMs: 0 }).get(name)!;
          s.n++;
          s.ms += performance.now() - t0;
          s.pgMs += ((this.processID ? ranNs(this.processID) : Number.NaN) - r0) / 1e6;
        };
        p?.then(done, done);
        return p;
      } as typeof query;
      const pg0 = pids.reduce((a, p) => a + ranNs(p), 0);
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      for (const g of work) await store.commit(g);
      const wallMs = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const pgNs = pids.reduce((a, p) => a + ranNs(p), 0) - pg0;
      const rows = groups * Math.ceil(per / 500) * 500;
      const figures = {
        rows,
        rowsPerCommit: rows / groups,
        rowsPerSecOneWriter: Math.round((rows / wallMs) * 1000),
        nodeCpuUsPerRow: round1((cpu.user + cpu.system) / rows),
        pgBackendCpuUsPerRow: Number.isNaN(pgNs) ? null : round1(pgNs / 1e3 / rows),
        wallUsPerRow: round1((wallMs * 1e3) / rows),
        statements: Object.fromEntries([...stats].sort((a, b) => b[1].ms - a[1].ms).map(([k, s]) => [k, { calls: s.n, wallUsPerRow: round1((s.ms * 1e3) / rows), pgCpuUsPerRow: Number.isNaN(s.pgMs) ? null : round1((s.pgMs * 1e3) / rows) }])),
      };
      const table: Array<[string, string]> = [
        ['pgCommit: rows (per commit), one writer rows/s', `${rows} (${rows / groups}), ${figures.rowsPerSecOneWriter}`],
        ['pgCommit: CPU µs per row, node / PostgreSQL backend', `${figures.nodeCpuUsPerRow} / ${figures.pgBackendCpuUsPerRow}`],
        ...Object.entries(figures.statements).map(([k, s]): [string, string] => [`pgCommit: ${k} µs/row wall / backend CPU`, `${s.wallUsPerRow} / ${s.pgCpuUsPerRow}`]),
      ];
      return { figures, table, ok: true };
    } finally {
      pg.Client.prototype.query = query;
      await store.close();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
      await admin.end();
    }
  },
};

/**
 * CPU seconds of the PostgreSQL backends whose application_name is `app`, from their schedstat,
 * sampled every 500 ms until `stop()` (a backend that ends keeps its last sample: the pool closes
 * idle ones). null when PostgreSQL is not on this machine (no /proc entry for its backends).
 */
export function backendCpu(admin: pg.Pool, app: string): { stop(): Promise<number | null> } {
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  let local = false;
  let started = false;
  const sample = async () => {
    const pids = (await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [app])).rows.map((r) => r.pid);
    for (const pid of pids) {
      const ns = schedOf(pid).runNs;
      // 0: no /proc entry (another machine's PostgreSQL, or the backend just ended).
      if (ns === 0) continue;
      local = true;
      // Backends there at the start count from then; later ones from their start.
      if (!first.has(pid)) first.set(pid, started ? 0 : ns);
      last.set(pid, ns);
    }
  };
  const ready = sample().then(() => void (started = true));
  const timer = setInterval(() => void sample().catch(() => undefined), 500);
  return {
    async stop() {
      clearInterval(timer);
      await ready;
      await sample().catch(() => undefined);
      if (!local || !started) return null;
      let ns = 0;
      for (const [pid, v] of last) ns += v - first.get(pid)!;
      return ns / 1e9;
    },
  };
}
