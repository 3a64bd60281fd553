/**
 * `npm run bench`: end-to-end durable throughput and latency, with raw MQTT QoS 1 through the same
 * broker as the reference measured in the same run (machines here are noisy: compare ratios).
 *
 * Modes (see bench/README.md):
 * - default: one `stockgate cloud` (embedded aedes, SQLite FULL) and N simulated edges, each with
 *   its own SQLite outbox (synchronous=FULL) and the real Publisher: append -> publish -> ledger
 *   commit -> ack -> delete. After the run the ledger total is checked against what was sent.
 * - `--pg`: `--ingesters` (2) cloud processes in one shared-subscription group on the external
 *   broker (Mosquitto, `--broker-url`), one PostgreSQL schema (`--pg-url`); raw MQTT through that
 *   same broker. Results under "pg".
 * - `--stock-query`: a generated ledger (`--skus` 100k SKUs, `--ledger-rows` 10M rows) in SQLite
 *   and/or PostgreSQL (`--store sqlite|pg|both`), then p50/p99 of `GET /api/v1/stock?site=&sku=`
 *   over HTTP against a running cloud and of the store call itself. Results under "stockQuery".
 *
 * - `--tsdb`: the time-series exporter against a real VictoriaMetrics SIGKILLed mid-export
 *   (bench/tsdb-export.ts). Results under "tsdb".
 *
 * Flags: --edges N (4), --movements N (200000), --raw N (50000), --batch N (500), --window N (8),
 * --paced N (5000 movements/s for the latency phase).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { packageRoot } from '../cloud/paths.js';
import { draft, printTable, rawMqtt, runEdges, startCloud, writeResults, type CloudProcess } from './common.js';
import { stockQueryBench } from './stock-query.js';
import { tsdbBench } from './tsdb-export.js';

const { values: args } = parseArgs({
  options: {
    edges: { type: 'string', default: '4' },
    movements: { type: 'string', default: '200000' },
    raw: { type: 'string', default: '50000' },
    batch: { type: 'string', default: '500' },
    window: { type: 'string', default: '8' },
    paced: { type: 'string', default: '5000' },
    out: { type: 'string', default: join(packageRoot(), 'bench', 'results') },
    pg: { type: 'boolean', default: false },
    'pg-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/test' },
    'broker-url': { type: 'string', default: 'mqtt://127.0.0.1:1883' },
    ingesters: { type: 'string', default: '2' },
    'stock-query': { type: 'boolean', default: false },
    store: { type: 'string', default: 'both' },
    skus: { type: 'string', default: '100000' },
    'ledger-rows': { type: 'string', default: '10000000' },
    requests: { type: 'string', default: '2000' },
    tsdb: { type: 'boolean', default: false },
    'tsdb-movements': { type: 'string', default: '1150000' },
    'tsdb-live-rate': { type: 'string', default: '5000' },
    'tsdb-live-seconds': { type: 'string', default: '20' },
    'tsdb-kill-at': { type: 'string', default: '2' },
    'tsdb-restart-at': { type: 'string', default: '12' },
    'tsdb-batch': { type: 'string', default: '10000' },
  },
});
const EDGES = Number(args.edges);
const TOTAL = Number(args.movements);
const RAW = Number(args.raw);
const BATCH = Number(args.batch);
const WINDOW = Number(args.window);
const PACED = Number(args.paced);
const PACED_SECONDS = 4;

const machine = () => ({ cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version });
const sample = () => JSON.stringify({ ...draft(1, 0), v: 1, id: '01M80HHQEE000NGEGV87269CTA', edge: 'edge-0', seq: 1, site: 'bench' });

/** Saturated then paced edges against `broker`, as the default mode measures them. */
async function phases(broker: string, site: string, dir: string) {
  // Saturated: every edge appends as fast as it can; this is the throughput figure.
  const e = await runEdges({ broker, site, dir, tag: 'sat', edges: EDGES, perEdge: Math.floor(TOTAL / EDGES), chunk: 500, paceMs: 0, batch: BATCH, window: WINDOW });
  // Paced at a steady PACED movements/s in total, well under capacity: the latency a dock sees in
  // normal operation (the saturated p50 is mostly queueing in the outbox).
  const pacedPerEdge = Math.round((PACED * PACED_SECONDS) / EDGES);
  const paced = await runEdges({
    broker,
    site,
    dir,
    tag: 'paced',
    edges: EDGES,
    perEdge: pacedPerEdge,
    chunk: 1000,
    paceMs: 10,
    ratePerSec: PACED / EDGES,
    batch: BATCH,
    window: WINDOW,
  });
  return { e, paced };
}

async function ledgerTotal(cloud: CloudProcess, site: string): Promise<number> {
  const res = await fetch(`${cloud.url}/api/v1/stock/totals?site=${site}`);
  const totals = (await res.json()) as { items: Array<{ onHand: number }> };
  return Math.round(totals.items.reduce((a, r) => a + r.onHand, 0) * 1e6) / 1e6;
}

async function defaultMode(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sg-bench-'));
  const cloud = await startCloud(['--data-dir', join(dir, 'cloud')]);
  try {
    const raw = await rawMqtt(`mqtt://127.0.0.1:${cloud.mqttPort}`, RAW, sample());
    const { e, paced } = await phases(`mqtt://127.0.0.1:${cloud.mqttPort}`, 'bench', dir);
    // Exactly once: the ledger holds each movement once.
    const onHand = await ledgerTotal(cloud, 'bench');
    const sent = e.movements + paced.movements;
    const result = {
      at: new Date().toISOString(),
      machine: machine(),
      e2e: { ...e, edges: EDGES, ledgerOnHand: onHand, exactlyOnce: onHand === sent },
      e2ePaced: { ...paced, targetPerSec: PACED },
      rawMqtt: raw,
      ratio: { e2eMovementsPerRawMsg: Math.round((e.movementsPerSec / raw.msgsPerSec) * 100) / 100 },
      settings: { batch: BATCH, window: WINDOW, store: 'sqlite (WAL, synchronous=FULL)', broker: 'embedded aedes' },
    };
    writeResults(args.out!, result);
    printTable([
      ['edges', String(EDGES)],
      ['movements', String(e.movements)],
      ['e2e durable movements/s', String(e.movementsPerSec)],
      ['saturated publish->ack p50 ms', String(e.p50Ms)],
      ['saturated publish->ack p99 ms', String(e.p99Ms)],
      [`paced ${PACED}/s: achieved movements/s`, String(paced.movementsPerSec)],
      [`paced ${PACED}/s: publish->ack p50 ms`, String(paced.p50Ms)],
      [`paced ${PACED}/s: publish->ack p99 ms`, String(paced.p99Ms)],
      ['exactly once (ledger on hand = sent)', `${onHand} / ${sent} ${onHand === sent ? 'OK' : 'MISMATCH'}`],
      [`raw MQTT QoS1 msgs/s (${raw.payloadBytes} B)`, String(raw.msgsPerSec)],
      ['e2e movements per raw msg', String(result.ratio.e2eMovementsPerRawMsg)],
    ]);
    process.stdout.write(`\nwritten: bench/results/latest.json\n`);
    if (onHand !== sent) process.exitCode = 1;
  } finally {
    await cloud.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * N ingesters competing on a shared subscription of the external broker, one PostgreSQL schema.
 * The raw reference goes through the same broker in the same run.
 */
async function pgMode(): Promise<void> {
  const INGESTERS = Number(args.ingesters);
  const tag = Math.random().toString(36).slice(2, 8);
  const site = `bench-pg-${tag}`;
  const schema = `sg_bench_${tag}`;
  const broker = args['broker-url']!;
  const admin = new pg.Pool({ connectionString: args['pg-url'], max: 1 });
  const dir = mkdtempSync(join(tmpdir(), 'sg-bench-pg-'));
  const clouds: CloudProcess[] = [];
  try {
    await admin.query(`CREATE SCHEMA "${schema}"`);
    const sep = args['pg-url']!.includes('?') ? '&' : '?';
    const store = `${args['pg-url']}${sep}options=-csearch_path%3D${schema}`;
    for (let n = 0; n < INGESTERS; n++) {
      clouds.push(
        await startCloud(['--data-dir', join(dir, `cloud-${n}`), '--broker', broker, '--site', site, '--store', store, '--shared-group', `bench-${tag}`, '--client-id', `bench-${tag}-ing-${n}`]),
      );
    }
    const raw = await rawMqtt(broker, RAW, sample());
    const { e, paced } = await phases(broker, site, dir);
    const onHand = await ledgerTotal(clouds[0]!, site);
    const sent = e.movements + paced.movements;
    const rows = (await admin.query<{ n: number; ids: number }>(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids FROM "${schema}".ledger WHERE site = $1`, [site])).rows[0]!;
    const ingest = await Promise.all(
      clouds.map(async (c) => ((await (await fetch(`${c.url}/healthz`)).json()) as { ingest: { applied: number; duplicates: number; commits: number } }).ingest),
    );
    const exactlyOnce = onHand === sent && rows.n === sent && rows.ids === sent;
    const result = {
      at: new Date().toISOString(),
      machine: machine(),
      pg: {
        at: new Date().toISOString(),
        e2e: { ...e, edges: EDGES, ingesters: INGESTERS, ledgerRows: rows.n, ledgerOnHand: onHand, exactlyOnce },
        e2ePaced: { ...paced, targetPerSec: PACED },
        perIngester: ingest.map((i) => ({ applied: i.applied, duplicates: i.duplicates, commits: i.commits })),
        rawMqtt: raw,
        ratio: { e2eMovementsPerRawMsg: Math.round((e.movementsPerSec / raw.msgsPerSec) * 100) / 100 },
        settings: { batch: BATCH, window: WINDOW, store: 'postgresql (one schema, READ COMMITTED, synchronous_commit=on)', broker: `${broker} ($share/<group>)` },
      },
    };
    writeResults(args.out!, result);
    printTable([
      ['edges / ingesters', `${EDGES} / ${INGESTERS}`],
      ['movements', String(e.movements)],
      ['e2e durable movements/s (pg)', String(e.movementsPerSec)],
      ['saturated publish->ack p50 ms', String(e.p50Ms)],
      ['saturated publish->ack p99 ms', String(e.p99Ms)],
      [`paced ${PACED}/s: achieved movements/s`, String(paced.movementsPerSec)],
      [`paced ${PACED}/s: publish->ack p50 ms`, String(paced.p50Ms)],
      [`paced ${PACED}/s: publish->ack p99 ms`, String(paced.p99Ms)],
      ['applied per ingester', ingest.map((i) => i.applied).join(' / ')],
      ['duplicates (resends) per ingester', ingest.map((i) => i.duplicates).join(' / ')],
      ['edge window resends (saturated)', String(e.resends)],
      ['exactly once (ledger rows, on hand = sent)', `${rows.n}, ${onHand} / ${sent} ${exactlyOnce ? 'OK' : 'MISMATCH'}`],
      [`raw MQTT QoS1 msgs/s via ${broker} (${raw.payloadBytes} B)`, `${raw.msgsPerSec}${raw.delivered < raw.messages ? ` (${raw.delivered}/${raw.messages} delivered)` : ''}`],
      ['e2e movements per raw msg', String(result.pg.ratio.e2eMovementsPerRawMsg)],
    ]);
    process.stdout.write(`\nwritten: bench/results/latest.json (key "pg")\n`);
    if (!exactlyOnce) process.exitCode = 1;
  } finally {
    for (const c of clouds) await c.kill();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (args.tsdb) {
  const ok = await tsdbBench({
    movements: Number(args['tsdb-movements']),
    liveRate: Number(args['tsdb-live-rate']),
    liveSeconds: Number(args['tsdb-live-seconds']),
    killAtS: Number(args['tsdb-kill-at']),
    restartAtS: Number(args['tsdb-restart-at']),
    batchRows: Number(args['tsdb-batch']),
    out: args.out!,
    machine: machine(),
  });
  if (!ok) process.exitCode = 1;
} else if (args['stock-query']) {
  const stores = args.store === 'both' ? (['sqlite', 'pg'] as const) : args.store === 'pg' || args.store === 'sqlite' ? ([args.store] as const) : undefined;
  if (!stores) throw new TypeError(`--store: expected sqlite, pg or both, got ${args.store}`);
  await stockQueryBench({
    stores: [...stores],
    skus: Number(args.skus),
    ledgerRows: Number(args['ledger-rows']),
    requests: Number(args.requests),
    pgUrl: args['pg-url']!,
    out: args.out!,
    machine: machine(),
  });
} else if (args.pg) {
  await pgMode();
} else {
  await defaultMode();
}
