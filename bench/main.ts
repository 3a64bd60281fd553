/**
 * `npm run bench [-- flags]`: the one entry point of the benchmarks. It parses the flags of every
 * section (bench/section.ts), runs the selected sections in order, measures the run's raw MQTT
 * reference first, and writes every section's figures with that reference to
 * `bench/results/latest.json` (merged: sections not run keep their last figures) and to
 * `bench/results/bench-<time>.json` (this run only). Tables go to stdout, progress to stderr.
 *
 * Selection: the default sections (`--list` shows them); `--only a,b` runs just those; a section's
 * own boolean flag (`--pg`, `--tsdb`, `--stock-query`) runs just the sections so named; `--skip a,b`
 * leaves some out. `--cpu-prof DIR` writes a .cpuprofile of each cloud process (bench/README.md).
 * Exit code 1 when a section reports a failure (a movement lost or doubled, a read-back mismatch).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { packageRoot } from '../cloud/paths.js';
import { boardSection } from './board.js';
import { businessSection } from './business.js';
import { boardLoadSection } from './board-load.js';
import { chainSection } from './chain-cost.js';
import { draft, printTable, rawMqtt, startCloud, type RawResult } from './common.js';
import { edgeBacklogSection } from './edge-backlog.js';
import { ingestSection, pgNatsSection, pgSection } from './ingest.js';
import { pgCommitSection } from './pg-commit.js';
import type { BenchContext, BenchSection, Machine, SectionResult } from './section.js';
import { stockQueryBench } from './stock-query.js';
import { tsdbSection } from './tsdb-export.js';
import { wireEncodingSection } from './wire-encoding.js';

/** Latest figures of a section that writes latest.json itself (key `key`), as its result. */
function readBack(out: string, key: string): Record<string, unknown> {
  try {
    return ((JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as Record<string, unknown>)[key] ?? {}) as Record<string, unknown>;
  } catch {
    return {};
  }
}

const stockQuerySection: BenchSection = {
  name: 'stockQuery',
  about: 'p50/p99 of GET /api/v1/stock?site=&sku= and store.stock() on a generated ledger (10M rows, 100k SKUs)',
  byDefault: false,
  options: {
    'stock-query': { type: 'boolean', default: false },
    store: { type: 'string', default: 'both' },
    skus: { type: 'string', default: '100000' },
    'ledger-rows': { type: 'string', default: '10000000' },
    requests: { type: 'string', default: '2000' },
    'pg-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/test' },
  },
  async run(ctx): Promise<SectionResult> {
    const f = ctx.flags;
    const stores = f.store === 'both' ? (['sqlite', 'pg'] as const) : f.store === 'pg' || f.store === 'sqlite' ? ([f.store] as const) : undefined;
    if (!stores) throw new TypeError(`--store: expected sqlite, pg or both, got ${String(f.store)}`);
    await stockQueryBench({ stores: [...stores], skus: Number(f.skus), ledgerRows: Number(f['ledger-rows']), requests: Number(f.requests), pgUrl: String(f['pg-url']), out: ctx.out, machine: ctx.machine });
    return { figures: readBack(ctx.out, 'stockQuery'), ok: true };
  },
};

/** Every section, in run order. To add one: one import above and one line here (bench/README.md). */
const SECTIONS: BenchSection[] = [
  chainSection,
  wireEncodingSection,
  ingestSection,
  edgeBacklogSection,
  pgSection,
  pgNatsSection,
  pgCommitSection,
  stockQuerySection,
  tsdbSection,
  boardLoadSection,
  boardSection,
  businessSection,
];

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

async function main(): Promise<void> {
  const options: NonNullable<ParseArgsConfig['options']> = {
    out: { type: 'string', default: join(packageRoot(), 'bench', 'results') },
    only: { type: 'string' },
    skip: { type: 'string', default: '' },
    list: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
    'cpu-prof': { type: 'string' },
    'raw-ref': { type: 'string', default: '50000' },
  };
  for (const s of SECTIONS) {
    // A section that is not in the default run is selected by its own flag.
    if (!s.byDefault) options[kebab(s.name)] ??= { type: 'boolean', default: false };
    for (const [k, v] of Object.entries(s.options ?? {})) options[k] ??= v;
  }
  const { values: flags } = parseArgs({ options, strict: true });
  if (flags.help) {
    // Every flag with its default, then the sections (what --list prints).
    process.stdout.write('npm run bench -- [flags]  (bench/README.md has what each section measures)\n\n');
    printTable(
      Object.entries(options)
        .filter(([k]) => k !== 'help')
        .map(([k, v]) => [`--${k}${v.type === 'string' ? ' VALUE' : ''}`, v.default === undefined || v.default === false ? '' : `default ${JSON.stringify(v.default)}`]),
    );
    process.stdout.write('\n');
  }
  if (flags.list || flags.help) {
    printTable(SECTIONS.map((s) => [`${s.name}${s.byDefault ? ' (default)' : ` (--${kebab(s.name)})`}`, s.about]));
    return;
  }
  const named = (v: unknown) => new Set(String(v ?? '').split(',').filter(Boolean));
  const only = named(flags.only);
  const skip = named(flags.skip);
  for (const n of [...only, ...skip]) if (!SECTIONS.some((s) => s.name === n)) throw new TypeError(`--only/--skip: no section ${n} (see --list)`);
  const byFlag = SECTIONS.filter((s) => !s.byDefault && flags[kebab(s.name)] === true);
  const chosen = SECTIONS.filter((s) => !skip.has(s.name) && (only.size ? only.has(s.name) : byFlag.length ? byFlag.includes(s) : s.byDefault));
  if (flags['cpu-prof']) process.env.STOCKGATE_BENCH_CPU_PROF = String(flags['cpu-prof']);

  const out = String(flags.out);
  const machine = (): Machine => ({ cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, load1: Math.round(loadavg()[0]! * 100) / 100 });
  const sample = JSON.stringify({ ...draft(1, 0), v: 1, id: '01M80HHQEE000NGEGV87269CTA', edge: 'edge-0', seq: 1, site: 'bench' });
  const rawN = Number(flags['raw-ref']);
  const log = (line: string) => process.stderr.write(`${line}\n`);

  // The run's reference: raw MQTT QoS 1 through the embedded broker of a fresh cloud.
  let rawRef: RawResult | undefined;
  if (rawN > 0) {
    const dir = mkdtempSync(join(tmpdir(), 'sg-bench-raw-'));
    const cloud = await startCloud(['--data-dir', join(dir, 'cloud')]);
    try {
      rawRef = await rawMqtt(`mqtt://127.0.0.1:${cloud.mqttPort}`, rawN, sample);
    } finally {
      await cloud.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const at = new Date().toISOString();
  const run: Record<string, unknown> = { at, machine: machine(), sections: chosen.map((s) => s.name), rawMqtt: rawRef };
  if (rawRef) printTable([[`run reference: raw MQTT QoS1 msgs/s (embedded aedes, ${rawRef.payloadBytes} B)`, String(rawRef.msgsPerSec)]]);
  let ok = true;
  for (const s of chosen) {
    const ctx: BenchContext = { flags: flags as BenchContext['flags'], out, machine: machine(), raw: (broker) => rawMqtt(broker, Number(flags.raw ?? rawN), sample), log };
    log(`=== ${s.name}`);
    const t0 = performance.now();
    const r = await s.run(ctx);
    const seconds = Math.round((performance.now() - t0) / 100) / 10;
    run[s.name] = { at: new Date().toISOString(), seconds, machine: ctx.machine, ...r.figures, rawMqttSameRun: rawRef?.msgsPerSec };
    if (r.table) printTable(r.table);
    if (!r.ok) {
      ok = false;
      log(`${s.name}: FAILED (see its figures)`);
    }
    // After each section, so a long run that dies later keeps what it measured.
    write(out, run);
  }
  process.stdout.write(`\nwritten: ${join(out, 'latest.json')} (${chosen.map((s) => s.name).join(', ')})\n`);
  if (!ok) process.exitCode = 1;
}

/** This run as bench-<time>.json; its keys merged into latest.json (other sections keep theirs). */
function write(out: string, run: Record<string, unknown> & { at?: unknown }): void {
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, `bench-${String(run.at).replace(/[:.]/g, '-')}.json`), `${JSON.stringify(run, null, 2)}\n`);
  const latestPath = join(out, 'latest.json');
  let latest: Record<string, unknown> = {};
  if (existsSync(latestPath)) {
    try {
      latest = JSON.parse(readFileSync(latestPath, 'utf8')) as Record<string, unknown>;
    } catch {
      latest = {};
    }
  }
  writeFileSync(latestPath, `${JSON.stringify({ ...latest, ...run }, null, 2)}\n`);
}

main().catch((err) => {
  // A mistyped flag is the caller's: its message and where to look, not a stack trace.
  const code = (err as { code?: unknown }).code;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    process.stderr.write(`bench: ${(err as Error).message} (npm run bench -- --help lists the flags)\n`);
    process.exit(2);
  }
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
