/**
 * Sections `ingest` (default) and `pg` of `npm run bench`: end-to-end durable throughput and
 * latency of simulated edges into `stockgate cloud`, against raw MQTT QoS 1 through the same
 * broker measured before and after in the same run (the ratio is the figure; issue 9, issue 14).
 *
 * - ingest: one `stockgate cloud` (embedded aedes, SQLite FULL) per `--edges` value (4,200): N
 *   edges, each with its own SQLite outbox (synchronous=FULL), connection and real Publisher:
 *   append -> publish -> ledger commit -> ack -> delete. Saturated (the throughput), then paced at
 *   each `--paced` rate (5000,30000) for latency: publish -> ack at the edge, device timestamp ->
 *   publish and -> ack at the edge, and device timestamp -> the row's `applied_at` read from the
 *   ledger file (the commit's clock, stamped inside the transaction; ms resolution), with how long
 *   the cloud's and the edges' event loops ran and waited for a CPU (the shared machine's share).
 *   Exactly once: ledger total.
 * - pg: `--ingesters` (2) clouds on the external broker (`--broker-url`, shared subscription) and
 *   one PostgreSQL schema (`--pg-url`).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { healthz, percentile, round1, schedOf, startCloud, type CloudProcess } from './common.js';
import { runEdges, startAckMonitor, type PhaseResult } from './edges.js';
import { NatsCluster } from './chaos/nats-cluster.js';
import { backendCpu } from './pg-commit.js';
import { bracketRaw, ratio, type BenchContext, type BenchSection, type Flags } from './section.js';

/**
 * Issue 9: e2e per raw msg before the hash chain and exact quantities (50,003 vs 46,380). That
 * release's bench measured raw MQTT once, on the fresh cloud *before* the e2e phases, so the
 * issue-9 comparison uses the same definition (`e2eMovementsPerRawMsgBefore`). The raw run after
 * the phases goes through a warmed-up broker and is often much faster (59.8k before vs 79.7k after
 * in one run): the ratio to the mean of the two (`e2eMovementsPerRawMsg`) is reported too, but it is
 * not the definition the 1.08 was measured with.
 */
const BEFORE_ISSUE_9 = 1.08;

const num = (f: Flags, k: string) => Number(f[k]);
const list = (f: Flags, k: string) => String(f[k]).split(',').filter(Boolean).map(Number);
/**
 * Worker threads for the simulated edges (`--edge-threads`, default 1: every edge in this
 * process's event loop, as before). More threads let the edges' outbox fsyncs overlap (see
 * `runEdges`), but on this 2-core machine 8 threads for 200 edges were worse: the threads wait for
 * a CPU (3.8 s per s summed) and device -> publish p99 rose from 171 ms to 1.2-1.8 s.
 */
function edgeThreads(f: Flags): number {
  const v = String(f['edge-threads'] ?? '1');
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`--edge-threads: a whole number >= 1, got ${JSON.stringify(v)}`);
  return n;
}

interface Phases {
  /** `cloudCpuUsPerMovement`: the cloud processes' CPU over the phase and the follower's catch-up after it, per movement (load-independent, unlike the rate). */
  saturated: PhaseResult & { followerCatchUpSec: number; cloudCpuUsPerMovement: number; cloudCpuUsPerMovementInPhase: number; followerRowsInPhase: number };
  /** `cloudLoop`/`edgesLoop`: the cloud's and this process's (the edges') event loop, from schedstat. */
  paced: Array<PhaseResult & { targetPerSec: number; tag: string; cloudLoop: ReturnType<typeof schedPerSec>; edgesLoop: ReturnType<typeof schedPerSec> & { threads: number }; commitToAckSeen: { p50Ms: number; p99Ms: number; acks: number } }>;
}

/**
 * Waits until the cloud's ledger follower (the business layer's consumers, cloud/ledger-follower/)
 * has taken every applied row: it runs after the ingest commits in the same process, so what it
 * still owes after a phase would slow the next one (and the raw reference after it). Returns the
 * seconds it took.
 */
async function followerSettled(clouds: CloudProcess[]): Promise<number> {
  const t0 = performance.now();
  const deadline = t0 + 300_000;
  for (let last = '', same = 0; performance.now() < deadline; ) {
    const hs = await Promise.all(
      clouds.map((c) => healthz(c.url)),
    );
    const applied = hs.reduce((a, h) => a + h.ingest.applied, 0);
    // A cloud with the business layer off (--no-business) has a follower without consumers: nothing to wait for.
    const rows = hs.reduce((a, h) => a + (h.follower && h.follower.consumers.length > 0 ? h.follower.rows : h.ingest.applied), 0);
    const key = `${applied}/${rows}`;
    same = key === last ? same + 1 : 0;
    last = key;
    if (rows >= applied && same >= 2) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return round1((performance.now() - t0) / 1000);
}

/** CPU seconds (user + system) the processes used so far, from /proc (Linux; 0 elsewhere). */
export function cpuSecondsOf(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop()!.split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      /* not Linux, or gone */
    }
  }
  return ticks / 100; // USER_HZ: 100 on Linux
}

/** Per second of the phase: ms the loop ran and ms it waited for a CPU, since `s0`. */
function schedPerSec(pid: number | 'self', s0: { runNs: number; waitNs: number }, secs: number): { runMsPerSec: number; waitMsPerSec: number } {
  const s1 = schedOf(pid);
  return { runMsPerSec: round1((s1.runNs - s0.runNs) / 1e6 / secs), waitMsPerSec: round1((s1.waitNs - s0.waitNs) / 1e6 / secs) };
}

async function phases(f: Flags, broker: string, site: string, dir: string, edges: number, tagPrefix: string, clouds: CloudProcess[]): Promise<Phases> {
  const batch = num(f, 'batch');
  const window = num(f, 'window');
  // Saturated: every edge appends as fast as it can; this is the throughput figure.
  const perEdge = Math.max(1, Math.floor(num(f, 'movements') / edges));
  const cpu0 = cpuSecondsOf(clouds.map((c) => c.pid));
  const followerRows = async () => (await Promise.all(clouds.map(async (c) => (await healthz(c.url)).follower?.rows ?? 0))).reduce((a, b) => a + b, 0);
  const rows0 = await followerRows();
  const sat = await runEdges({ broker, site, dir, tag: `${tagPrefix}sat`, edges, perEdge, chunk: 500, paceMs: 0, batch, window, threads: edgeThreads(f) });
  // The cloud's CPU while the edges were saturating it (the follower yields then), and with the catch-up after.
  const cloudCpuUsPerMovementInPhase = round1(((cpuSecondsOf(clouds.map((c) => c.pid)) - cpu0) * 1e6) / sat.movements);
  const followerRowsInPhase = (await followerRows()) - rows0;
  const followerCatchUpSec = await followerSettled(clouds);
  const cloudCpuUsPerMovement = round1(((cpuSecondsOf(clouds.map((c) => c.pid)) - cpu0) * 1e6) / sat.movements);
  const saturated = { ...sat, followerCatchUpSec, cloudCpuUsPerMovement, cloudCpuUsPerMovementInPhase, followerRowsInPhase };
  if (f['saturated-only'] === true) return { saturated, paced: [] };
  // Paced, well under capacity: the latency a dock sees in normal operation (the saturated p50 is
  // mostly queueing in the outbox). Every 10 ms each edge appends what is due since its start.
  const paced: Phases['paced'] = [];
  for (const rate of list(f, 'paced')) {
    const tag = `${tagPrefix}paced${rate}`;
    const perEdgePaced = Math.max(1, Math.round((rate * num(f, 'paced-seconds')) / edges));
    const pid = clouds[0]!.pid;
    const monitor = await startAckMonitor(broker, site);
    const [c0, t0] = [schedOf(pid), performance.now()];
    const { edgesSched, ...r } = await runEdges({ broker, site, dir, tag, edges, perEdge: perEdgePaced, chunk: 100_000, paceMs: 10, ratePerSec: rate / edges, batch, window, threads: edgeThreads(f) });
    const secs = (performance.now() - t0) / 1000;
    // The edges' threads summed (over 1000 ms per s with several threads).
    const edgesLoop = { runMsPerSec: round1(edgesSched.runNs / 1e6 / secs), waitMsPerSec: round1(edgesSched.waitNs / 1e6 / secs), threads: edgesSched.threads };
    const cloudLoop = schedPerSec(pid, c0, secs);
    paced.push({ ...r, targetPerSec: rate, tag, cloudLoop, edgesLoop, commitToAckSeen: await monitor.stop() });
    await followerSettled(clouds);
  }
  return { saturated, paced };
}

async function ledgerTotal(cloud: CloudProcess, site: string): Promise<number> {
  const res = await fetch(`${cloud.url}/api/v1/stock/totals?site=${site}`);
  const totals = (await res.json()) as { items: Array<{ onHand: number }> };
  return Math.round(totals.items.reduce((a, r) => a + r.onHand, 0) * 1e6) / 1e6;
}

/** Device ts -> applied_at of the rows of edges `<tag>-*`, from the cloud's SQLite file. */
function deviceToCommit(file: string, site: string, tag: string): { p50Ms: number; p99Ms: number; rows: number } {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare(`SELECT ts_ms AS ts, applied_at AS at FROM ledger WHERE site = ? AND edge >= ? AND edge < ?`)
      .all(site, `${tag}-`, `${tag}.`) as Array<{ ts: number; at: string }>;
    const d = rows.map((r) => Date.parse(r.at) - r.ts).sort((a, b) => a - b);
    return { p50Ms: round1(percentile(d, 50)), p99Ms: round1(percentile(d, 99)), rows: d.length };
  } finally {
    db.close();
  }
}

async function ingestOnce(ctx: BenchContext, edges: number, business = true) {
  const f = ctx.flags;
  const dir = mkdtempSync(join(tmpdir(), 'sg-bench-'));
  const cloud = await startCloud(['--data-dir', join(dir, 'cloud'), ...(business ? [] : ['--no-business'])]);
  try {
    const broker = `mqtt://127.0.0.1:${cloud.mqttPort}`;
    ctx.log(`ingest: ${edges} edges${business ? '' : ', business layer off (saturated phase only)'}`);
    const { result: ph, raw } = await bracketRaw(ctx, broker, () => phases(business ? f : { ...f, 'saturated-only': true }, broker, 'bench', dir, edges, '', [cloud]));
    const onHand = await ledgerTotal(cloud, 'bench');
    // The ingest queue's bounds (--max-queued-per-edge, --max-queued): its peak, and how often a publisher was held back.
    const q = (await healthz(cloud.url)).ingest;
    const ingestQueue = { peak: q.queuedPeak, heldBackEdge: q.heldBackEdge, heldBackAll: q.heldBackAll };
    const sent = ph.saturated.movements + ph.paced.reduce((a, p) => a + p.movements, 0);
    const file = join(dir, 'cloud', 'stockgate.db');
    const paced = ph.paced.map(({ tag, ...p }) => ({ ...p, deviceToCommit: deviceToCommit(file, 'bench', tag) }));
    const r = ratio(ph.saturated.movementsPerSec, raw.meanMsgsPerSec);
    const rBefore = ratio(ph.saturated.movementsPerSec, raw.before.msgsPerSec);
    return {
      edges,
      e2e: { ...ph.saturated, ledgerOnHand: onHand, sent, exactlyOnce: onHand === sent, ingestQueue },
      paced,
      rawMqtt: raw,
      ratio: {
        e2eMovementsPerRawMsg: r,
        e2eMovementsPerRawMsgBefore: rBefore,
        beforeIssue9: BEFORE_ISSUE_9,
        // The 1.08 was measured with 4 edges (that release's default); other edge counts have no baseline.
        withinTenPercentOfBefore: edges === 4 ? rBefore >= BEFORE_ISSUE_9 * 0.9 : null,
      },
    };
  } finally {
    await cloud.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The business-layer A/B of one edge count: the saturated phase with the layer on (the normal run) and off, each against its own raw bracket. */
function abOf(on: Awaited<ReturnType<typeof ingestOnce>>, off: Awaited<ReturnType<typeof ingestOnce>>) {
  const side = (r: typeof on) => ({
    movementsPerSec: r.e2e.movementsPerSec,
    rawMeanMsgsPerSec: r.rawMqtt.meanMsgsPerSec,
    e2eMovementsPerRawMsg: r.ratio.e2eMovementsPerRawMsg,
    cloudCpuUsPerMovement: r.e2e.cloudCpuUsPerMovement,
    cloudCpuUsPerMovementInPhase: r.e2e.cloudCpuUsPerMovementInPhase,
    followerRowsInPhase: r.e2e.followerRowsInPhase,
    followerCatchUpSec: r.e2e.followerCatchUpSec,
    exactlyOnce: r.e2e.exactlyOnce,
  });
  const a = side(on);
  const b = side(off);
  const perRaw = ratio(a.e2eMovementsPerRawMsg, b.e2eMovementsPerRawMsg);
  return {
    on: a,
    off: b,
    onPerOff: { movementsPerSec: ratio(a.movementsPerSec, b.movementsPerSec), e2eMovementsPerRawMsg: perRaw, cloudCpu: ratio(a.cloudCpuUsPerMovement, b.cloudCpuUsPerMovement) },
    // Issue 10: the business layer must not cost the ingest path more than 10% (throughput per raw msg of the same run).
    withinTenPercent: perRaw >= 0.9,
  };
}

const common = {
  movements: { type: 'string', default: '200000' },
  raw: { type: 'string', default: '50000' },
  batch: { type: 'string', default: '500' },
  window: { type: 'string', default: '8' },
  paced: { type: 'string', default: '5000,30000' },
  'paced-seconds': { type: 'string', default: '4' },
  'edge-threads': { type: 'string', default: '1' },
} as const;

export const ingestSection: BenchSection = {
  name: 'ingest',
  about: 'e2e durable movements/s of N edges into stockgate cloud (embedded aedes, SQLite FULL) vs raw MQTT QoS 1, same run; paced latency',
  byDefault: true,
  options: { ...common, edges: { type: 'string', default: '4,200' }, 'business-ab': { type: 'string', default: '4' } },
  async run(ctx) {
    const runs = [];
    const ab = list(ctx.flags, 'business-ab');
    for (const edges of list(ctx.flags, 'edges')) {
      const on = await ingestOnce(ctx, edges);
      // Issues 9 and 10: what the business layer costs ingest, in the same run: the saturated phase
      // again on a fresh cloud with --no-business (raw MQTT bracketed around it too).
      const off = ab.includes(edges) ? await ingestOnce(ctx, edges, false) : undefined;
      runs.push({ ...on, ...(off ? { businessOff: abOf(on, off) } : {}) });
    }
    const table: Array<[string, string]> = [];
    for (const r of runs) {
      const e = `${r.edges} edges:`;
      table.push(
        [`${e} e2e durable movements/s`, String(r.e2e.movementsPerSec)],
        [`${e} raw MQTT QoS1 msgs/s before / after`, `${r.rawMqtt.before.msgsPerSec} / ${r.rawMqtt.after.msgsPerSec}`],
        [`${e} e2e movements per raw msg: to raw before / to the mean`, `${r.ratio.e2eMovementsPerRawMsgBefore} / ${r.ratio.e2eMovementsPerRawMsg}`],
        [
          `${e} issue 9: per raw msg before, vs ${BEFORE_ISSUE_9} before issue 9 (same definition)`,
          r.ratio.withinTenPercentOfBefore === null ? 'n/a (the 1.08 was measured with 4 edges)' : `within 10%: ${r.ratio.withinTenPercentOfBefore ? 'yes' : 'NO'}`,
        ],
        [`${e} saturated publish->ack p50 / p99 ms`, `${r.e2e.p50Ms} / ${r.e2e.p99Ms}`],
        [`${e} ledger follower catch-up after it, s`, String(r.e2e.followerCatchUpSec)],
        [`${e} exactly once (ledger on hand = sent)`, `${r.e2e.ledgerOnHand} / ${r.e2e.sent} ${r.e2e.exactlyOnce ? 'OK' : 'MISMATCH'}`],
        [`${e} cloud CPU µs per movement (saturated + catch-up)`, String(r.e2e.cloudCpuUsPerMovement)],
        [`${e} ingest queue peak, movements / publishers held back: per edge, all`, `${r.e2e.ingestQueue.peak} / ${r.e2e.ingestQueue.heldBackEdge}, ${r.e2e.ingestQueue.heldBackAll}`],
      );
      const b = r.businessOff;
      if (b) {
        table.push(
          [`${e} business OFF: e2e movements/s, per raw msg`, `${b.off.movementsPerSec}, ${b.off.e2eMovementsPerRawMsg} (raw ${b.off.rawMeanMsgsPerSec})`],
          [`${e} business ON / OFF: movements/s, per raw msg`, `${b.onPerOff.movementsPerSec}, ${b.onPerOff.e2eMovementsPerRawMsg} (within 10%: ${b.withinTenPercent ? 'yes' : 'NO'})`],
          [`${e} business ON / OFF: cloud CPU µs per movement in the phase`, `${b.on.cloudCpuUsPerMovementInPhase} / ${b.off.cloudCpuUsPerMovementInPhase} (ON: follower took ${b.on.followerRowsInPhase} rows during it)`],
          [`${e} business ON / OFF: cloud CPU µs per movement with the catch-up`, `${b.on.cloudCpuUsPerMovement} / ${b.off.cloudCpuUsPerMovement}`],
        );
      }
      for (const p of r.paced) {
        table.push(
          [`${e} paced ${p.targetPerSec}/s achieved`, String(p.movementsPerSec)],
          [`${e} paced ${p.targetPerSec}/s device->commit p50 / p99 ms`, `${p.deviceToCommit.p50Ms} / ${p.deviceToCommit.p99Ms}`],
          [`${e} paced ${p.targetPerSec}/s device->publish (edge share) p50 / p99 ms`, `${p.deviceToPublishP50Ms} / ${p.deviceToPublishP99Ms}`],
          [`${e} paced ${p.targetPerSec}/s device->ack p50 / p99 ms`, `${p.deviceToAckP50Ms} / ${p.deviceToAckP99Ms}`],
          [`${e} paced ${p.targetPerSec}/s commit->ack seen by a free subscriber p50 / p99 ms`, `${p.commitToAckSeen.p50Ms} / ${p.commitToAckSeen.p99Ms}`],
          [`${e} paced ${p.targetPerSec}/s cloud / edges event loop: on CPU, waiting for a CPU, ms per s`, `${p.cloudLoop.runMsPerSec}, ${p.cloudLoop.waitMsPerSec} / ${p.edgesLoop.runMsPerSec}, ${p.edgesLoop.waitMsPerSec} (${p.edgesLoop.threads} thread${p.edgesLoop.threads === 1 ? '' : 's'})`],
        );
      }
    }
    return {
      figures: { runs, settings: { batch: num(ctx.flags, 'batch'), window: num(ctx.flags, 'window'), store: 'sqlite (WAL, synchronous=FULL)', broker: 'embedded aedes' } },
      table,
      ok: runs.every((r) => r.e2e.exactlyOnce && (r.businessOff?.off.exactlyOnce ?? true)),
    };
  },
};

/**
 * N ingesters competing on a shared subscription of the external broker, one PostgreSQL schema.
 * The raw reference goes through the same broker in the same run.
 */
export const pgSection: BenchSection = {
  name: 'pg',
  about: '--ingesters clouds on the external broker ($share) and one PostgreSQL schema vs raw MQTT through that broker',
  byDefault: false,
  options: {
    ...common,
    'pg-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/test' },
    'broker-url': { type: 'string', default: 'mqtt://127.0.0.1:1883' },
    ingesters: { type: 'string', default: '2' },
    'pg-edges': { type: 'string', default: '4' },
  },
  async run(ctx) {
    const f = ctx.flags;
    const INGESTERS = num(f, 'ingesters');
    const EDGES = num(f, 'pg-edges');
    const tag = Math.random().toString(36).slice(2, 8);
    const site = `bench-pg-${tag}`;
    const schema = `sg_bench_${tag}`;
    // pgNats (issue 14 §5): a 3-node NATS cluster of our own instead; edges and the raw reference
    // go to node 1's MQTT listener, the ingesters share one JetStream consumer (--nats).
    const cluster = f.natsCluster === true ? await NatsCluster.start(mkdtempSync(join(tmpdir(), 'sg-bench-nats-'))) : undefined;
    const broker = cluster ? `mqtt://127.0.0.1:${cluster.nodes[0]!.mqttPort}` : String(f['broker-url']);
    const pgUrl = String(f['pg-url']);
    const admin = new pg.Pool({ connectionString: pgUrl, max: 1 });
    const dir = mkdtempSync(join(tmpdir(), 'sg-bench-pg-'));
    const clouds: CloudProcess[] = [];
    try {
      await admin.query(`CREATE SCHEMA "${schema}"`);
      const sep = pgUrl.includes('?') ? '&' : '?';
      // application_name: the PostgreSQL backends of these clouds, for their CPU (backendCpu).
      const store = `${pgUrl}${sep}options=-csearch_path%3D${schema}&application_name=sg-bench-${tag}`;
      for (let n = 0; n < INGESTERS; n++) {
        clouds.push(
          await startCloud(['--data-dir', join(dir, `cloud-${n}`), ...(cluster ? ['--nats', cluster.natsUrls] : ['--broker', broker]), '--site', site, '--store', store, '--shared-group', `bench-${tag}`, '--client-id', `bench-${tag}-ing-${n}`]),
        );
      }
      const backends = backendCpu(admin, `sg-bench-${tag}`);
      const { result: ph, raw } = await bracketRaw(ctx, broker, () => phases(f, broker, site, dir, EDGES, '', clouds));
      const pgCpuSec = await backends.stop();
      const e = ph.saturated;
      const onHand = await ledgerTotal(clouds[0]!, site);
      const sent = e.movements + ph.paced.reduce((a, p) => a + p.movements, 0);
      const rows = (await admin.query<{ n: number; ids: number }>(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids FROM "${schema}".ledger WHERE site = $1`, [site])).rows[0]!;
      const ingest = await Promise.all(
        clouds.map(async (c) => (await healthz(c.url)).ingest),
      );
      const exactlyOnce = onHand === sent && rows.n === sent && rows.ids === sent;
      // Over every phase and the followers' catch-ups, like cloudCpuUsPerMovement (the ingesters' side).
      const pgBackendCpuUsPerMovement = pgCpuSec === null ? null : round1((pgCpuSec * 1e6) / sent);
      const r = ratio(e.movementsPerSec, raw.meanMsgsPerSec);
      const figures = {
        e2e: { ...e, edges: EDGES, ingesters: INGESTERS, ledgerRows: rows.n, ledgerOnHand: onHand, exactlyOnce, pgBackendCpuUsPerMovement },
        paced: ph.paced.map(({ tag: _t, ...p }) => p),
        perIngester: ingest.map((i) => ({ applied: i.applied, duplicates: i.duplicates, commits: i.commits })),
        rawMqtt: raw,
        ratio: { e2eMovementsPerRawMsg: r },
        settings: { batch: num(f, 'batch'), window: num(f, 'window'), store: 'postgresql (one schema, READ COMMITTED, synchronous_commit=on)', broker: cluster ? `NATS 3 nodes, JetStream R3, MQTT on ${broker}` : `${broker} ($share/<group>)` },
      };
      const table: Array<[string, string]> = [
        ['pg: edges / ingesters', `${EDGES} / ${INGESTERS}`],
        ['pg: e2e durable movements/s', String(e.movementsPerSec)],
        [`pg: raw MQTT QoS1 msgs/s via ${broker} before / after`, `${raw.before.msgsPerSec} / ${raw.after.msgsPerSec}`],
        ['pg: e2e movements per raw msg', String(r)],
        ['pg: saturated publish->ack p50 / p99 ms', `${e.p50Ms} / ${e.p99Ms}`],
        ...ph.paced.map((p): [string, string] => [`pg: paced ${p.targetPerSec}/s achieved, device->ack p50 / p99 ms`, `${p.movementsPerSec}, ${p.deviceToAckP50Ms} / ${p.deviceToAckP99Ms}`]),
        ['pg: CPU µs per movement, ingesters (saturated phase + catch-up) / their PostgreSQL backends (all phases)', `${e.cloudCpuUsPerMovement} / ${pgBackendCpuUsPerMovement}`],
        ['pg: applied / duplicates per ingester', ingest.map((i) => `${i.applied}/${i.duplicates}`).join(' ')],
        ['pg: exactly once (ledger rows, on hand = sent)', `${rows.n}, ${onHand} / ${sent} ${exactlyOnce ? 'OK' : 'MISMATCH'}`],
      ];
      return { figures, table, ok: exactlyOnce };
    } finally {
      for (const c of clouds) await c.kill();
      await cluster?.stop();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
      await admin.end();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

/** Issue 14 §5: the pg section on a 3-node NATS cluster it starts itself (`--pg-nats`, results under "pgNats"). */
export const pgNatsSection: BenchSection = {
  name: 'pgNats',
  about: '--ingesters clouds on a 3-node NATS cluster (--nats, JetStream R3) and one PostgreSQL schema vs raw MQTT through node 1',
  byDefault: false,
  options: pgSection.options!,
  run: (ctx) => pgSection.run({ ...ctx, flags: { ...ctx.flags, natsCluster: true } }),
};
