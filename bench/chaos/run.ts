/*
 * Why one file (over 400 lines): the chaos run is one scenario script (start the processes, inject
 * each fault in turn, count lost and doubled per edge); its steps share the processes and the
 * counters, and splitting them would pass that state around without making any step clearer.
 */
/**
 * `npm run chaos [-- --short]` (issue 14 §4): faults against real processes while edges send
 * movements, then every edge's outbox is compared with the ledger: lost and doubled must be 0.
 *
 * Rigs (each its own cloud, site and free ports; nothing on 1883/4222/5432):
 * - **embedded**: `stockgate cloud` (embedded aedes, SQLite on a size-limited tmpfs), 8 edges:
 *   SIGKILL cycles of the cloud (= the embedded broker), SIGKILL cycles of one edge, an edge in its
 *   own network namespace partitioned by taking its veth down, four edges behind the fault proxy
 *   (delay, loss, half-open, black hole), two edges with their clock 1 h ahead / behind, and the
 *   cloud's data dir filled to the last byte;
 * - **mosquitto**: `--broker` on a Mosquitto of our own, SIGKILL cycles of the broker;
 * - **nats**: `--nats` on a 3-node cluster (JetStream R3 + MQTT), SIGKILL cycles of a node;
 * - **postgres**: `--store` on a PostgreSQL of our own (initdb + pg_ctl), restarted mid-batch with
 *   `-m immediate` (a crash: no checkpoint, WAL recovery on start).
 *
 * Recovery time of a fault: from its end (the process restarted, the link back up, the disk
 * freed) to the first movement of an affected edge committed after it. Last stdout line:
 * `{"event":"chaos-summary","lost":N,"doubled":N,"faults":[{"name","recoverySec"}]}`; the whole
 * result goes to bench/results/chaos-latest.json.
 */
import { execSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync, closeSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { packageRoot } from '../../cloud/paths.js';
import { FaultProxy } from './fault-proxy.js';
import { freePort } from '../free-port.js';
import { NatsCluster } from './nats-cluster.js';
import { CloudProc, EdgeProc, MosquittoProc, PostgresProc, sleep } from './procs.js';

const { values: args } = parseArgs({
  options: {
    short: { type: 'boolean', default: false },
    out: { type: 'string', default: join(packageRoot(), 'bench', 'results') },
    only: { type: 'string' },
  },
});
const SHORT = args.short!;
/** Full run: 20 cycles per kill fault, 100k movements in the embedded rig, 30 s partitions. */
const P = SHORT
  ? { movements: 12_000, cycles: 3, partitionSec: 6, proxySec: 6, diskSec: 5, otherMovements: 3000, pgRestarts: 1, downSec: 1 }
  : { movements: 100_000, cycles: 20, partitionSec: 30, proxySec: 30, diskSec: 20, otherMovements: 20_000, pgRestarts: 3, downSec: 2 };

interface Fault {
  name: string;
  /** Median over cycles for repeated faults. */
  recoverySec: number;
  maxRecoverySec?: number;
  cycles?: number;
  note?: string;
}
interface EdgeCheck {
  rig: string;
  edge: string;
  sent: number;
  applied: number;
  refused: number;
  lost: number;
  doubled: number;
  backlog: number;
}

const log = (m: string) => process.stderr.write(`chaos: ${m}\n`);
const root = mkdtempSync(join(tmpdir(), 'sg-chaos-'));
// The PostgreSQL rig runs as the postgres user (initdb refuses root): it must reach its dir.
chmodSync(root, 0o755);
type Cleanups = Array<() => Promise<void> | void>;
/** Every rig's cleanups (rigs of the short run go in parallel), for SIGINT. */
const allCleanups = new Set<Cleanups>();
const faults: Fault[] = [];
const checks: EdgeCheck[] = [];
const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]! : 0);
const r1 = (x: number) => Math.round(x * 10) / 10;

/** Ledger rows per edge of one site: rows and distinct (edge, seq). */
type Counts = Map<string, { rows: number; seqs: number }>;
type Ledger = { counts(): Promise<Counts>; close(): Promise<void> | void };

function sqliteLedger(file: string, site: string): Ledger {
  let db: Database.Database | undefined;
  let last: Counts = new Map();
  return {
    async counts() {
      try {
        db ??= new Database(file, { readonly: true, fileMustExist: true });
        const rows = db.prepare('SELECT edge, count(*) AS rows, count(DISTINCT seq) AS seqs FROM ledger WHERE site = ? GROUP BY edge').all(site) as Array<{ edge: string; rows: number; seqs: number }>;
        last = new Map(rows.map((r) => [r.edge, { rows: r.rows, seqs: r.seqs }]));
      } catch {
        db?.close();
        db = undefined;
      }
      return last;
    },
    close() {
      db?.close();
    },
  };
}

function pgLedger(url: string, site: string): Ledger {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  pool.on('error', () => undefined);
  let last: Counts = new Map();
  return {
    async counts() {
      try {
        const r = await pool.query('SELECT edge, count(*)::int AS rows, count(DISTINCT seq)::int AS seqs FROM ledger WHERE site = $1 GROUP BY edge', [site]);
        last = new Map(r.rows.map((x: { edge: string; rows: number; seqs: number }) => [x.edge, { rows: x.rows, seqs: x.seqs }]));
      } catch {
        /* restarting */
      }
      return last;
    },
    close: () => pool.end(),
  };
}

const total = (c: Counts, edges?: string[]) => [...c.entries()].filter(([e]) => !edges || edges.includes(e)).reduce((a, [, v]) => a + v.rows, 0);

/** Seconds from now until every one of `edges` has a movement committed beyond what it had now. */
async function recovery(ledger: Ledger, edges: string[], timeoutSec = 180): Promise<number> {
  const t0 = Date.now();
  const base = await ledger.counts();
  const pending = new Set(edges);
  while (pending.size) {
    const c = await ledger.counts();
    for (const e of [...pending]) if ((c.get(e)?.rows ?? 0) > (base.get(e)?.rows ?? 0)) pending.delete(e);
    if (Date.now() - t0 > timeoutSec * 1000) throw new Error(`no progress of ${[...pending].join(', ')} within ${timeoutSec} s`);
    if (pending.size) await sleep(100);
  }
  return (Date.now() - t0) / 1000;
}

/** Wait until every edge has appended everything and its outbox is empty (all acked or refused). */
async function drained(edges: EdgeProc[], timeoutSec: number): Promise<void> {
  const t0 = Date.now();
  for (const e of edges) e.finish();
  await sleep(600);
  while (!edges.every((e) => e.done)) {
    if (Date.now() - t0 > timeoutSec * 1000) {
      log(`not drained after ${timeoutSec} s: ${edges.map((e) => `${e.spec.name} ${e.last.lastSeq} backlog ${e.last.backlog}`).join(', ')}`);
      return;
    }
    await sleep(250);
  }
}

async function verify(rig: string, ledger: Ledger, edges: EdgeProc[]): Promise<void> {
  for (const e of edges) await e.kill('SIGTERM');
  const c = await ledger.counts();
  for (const e of edges) {
    const f = e.final();
    const got = c.get(e.spec.name) ?? { rows: 0, seqs: 0 };
    const check: EdgeCheck = { rig, edge: e.spec.name, sent: f.lastSeq, applied: got.seqs, refused: f.rejected, lost: Math.max(0, f.lastSeq - f.rejected - got.seqs), doubled: got.rows - got.seqs, backlog: f.backlog };
    checks.push(check);
    log(`${rig} ${e.spec.name}: sent ${check.sent}, applied ${check.applied}, refused ${check.refused}, lost ${check.lost}, doubled ${check.doubled}, backlog ${check.backlog}`);
  }
}

/** Repeated SIGKILL + restart of something; recovery per cycle, kill -> restart after `downSec`. */
async function killCycles(name: string, ledger: Ledger, edges: string[], cycles: number, kill: () => Promise<void>, restart: () => Promise<void>): Promise<void> {
  const rec: number[] = [];
  for (let i = 0; i < cycles; i++) {
    await sleep(500 + Math.random() * 1000);
    await kill();
    await sleep(P.downSec * 1000);
    await restart();
    rec.push(await recovery(ledger, edges));
  }
  faults.push({ name, recoverySec: r1(median(rec)), maxRecoverySec: r1(Math.max(...rec)), cycles });
  log(`${name}: ${cycles} cycles, recovery median ${r1(median(rec))} s, max ${r1(Math.max(...rec))} s`);
}

const sh = (cmd: string) => execSync(cmd, { stdio: 'ignore' });

// ---------------------------------------------------------------- embedded rig
async function embeddedRig(cleanups: Cleanups): Promise<void> {
  const site = `chaos-emb-${process.pid}`;
  const dataDir = join(root, 'emb-cloud');
  mkdirSync(dataDir);
  // A size-limited filesystem for the cloud's data dir: the disk-full fault fills it.
  const tmpfsMb = SHORT ? 128 : 512;
  sh(`mount -t tmpfs -o size=${tmpfsMb}m sg-chaos ${dataDir}`);
  cleanups.push(() => void sh(`umount -l ${dataDir}`));
  const cloud = new CloudProc(['--data-dir', dataDir, '--site', site], await freePort(), await freePort());
  await cloud.start();
  cleanups.push(() => cloud.kill());
  const direct = `mqtt://127.0.0.1:${cloud.mqttPort}`;

  // The partitioned edge lives in its own network namespace, joined by a veth pair; it reaches the
  // cloud through a pass-through proxy on the host end (10.231.N.1).
  const n = process.pid % 250;
  const ns = `sgchaos${process.pid}`;
  const hostIf = `sgc${process.pid % 100000}h`;
  sh(`ip netns add ${ns}`);
  cleanups.push(() => void sh(`ip netns del ${ns}`));
  sh(`ip link add ${hostIf} type veth peer name sgce0 netns ${ns}`);
  cleanups.push(() => void execSync(`ip link del ${hostIf} 2>/dev/null || true`));
  sh(`ip addr add 10.231.${n}.1/30 dev ${hostIf} && ip link set ${hostIf} up`);
  sh(`ip netns exec ${ns} sh -c 'ip addr add 10.231.${n}.2/30 dev sgce0 && ip link set sgce0 up && ip link set lo up'`);
  const nsProxy = await FaultProxy.start({ host: `10.231.${n}.1`, upstreams: [{ host: '127.0.0.1', port: cloud.mqttPort! }] });
  cleanups.push(() => nsProxy.close());

  const proxies: Record<string, FaultProxy> = {};
  for (const f of ['delay', 'loss', 'half-open', 'blackhole']) {
    proxies[f] = await FaultProxy.start({ upstreams: [{ host: '127.0.0.1', port: cloud.mqttPort! }] });
    cleanups.push(() => proxies[f]!.close());
  }

  const planned = P.cycles * 4 + Math.max(P.partitionSec, P.proxySec) + 50 + P.diskSec + 10;
  const rate = Math.ceil(P.movements / 9 / planned);
  const mk = (name: string, broker: string, extra: { clockOffsetMs?: number; netns?: string } = {}) => new EdgeProc({ name, broker, site, dir: root, rate, ...extra });
  const edges = [
    mk('e-plain', direct),
    mk('e-killed', direct),
    mk('e-netns', `mqtt://10.231.${n}.1:${nsProxy.port}`, { netns: ns }),
    ...Object.entries(proxies).map(([f, p]) => mk(`e-${f}`, `mqtt://127.0.0.1:${p.port}`)),
    mk('e-clock-ahead', direct, { clockOffsetMs: 3_600_000 }),
    mk('e-clock-behind', direct, { clockOffsetMs: -3_600_000 }),
  ];
  for (const e of edges) e.start();
  cleanups.push(async () => {
    for (const e of edges) await e.kill();
  });
  const ledger = sqliteLedger(join(dataDir, 'stockgate.db'), site);
  cleanups.push(() => ledger.close());
  const names = edges.map((e) => e.spec.name);
  await recovery(ledger, names, 60);
  log(`embedded rig: ${edges.length} edges, ${rate} movements/s each, cloud on tmpfs ${tmpfsMb} MB`);

  // 1. The cloud (and with it the embedded broker), SIGKILLed and restarted.
  await killCycles('sigkill-cloud-embedded-broker', ledger, names.filter((e) => e !== 'e-netns' && !e.startsWith('e-half') && !e.startsWith('e-black')), P.cycles, () => cloud.kill('SIGKILL'), () => cloud.restart());

  // 2. At once, each on its own edges: edge SIGKILL cycles, the netns partition, the proxy faults.
  const killed = edges.find((e) => e.spec.name === 'e-killed')!;
  await Promise.all([
    killCycles('sigkill-edge', ledger, ['e-killed'], P.cycles, () => killed.kill('SIGKILL'), async () => killed.start()),
    (async () => {
      await sleep(1000);
      sh(`ip link set ${hostIf} down`);
      await sleep(P.partitionSec * 1000);
      sh(`ip link set ${hostIf} up`);
      const s = await recovery(ledger, ['e-netns']);
      faults.push({ name: 'netns-partition', recoverySec: r1(s), note: `veth down ${P.partitionSec} s` });
      log(`netns partition ${P.partitionSec} s: recovery ${r1(s)} s`);
    })(),
    ...Object.entries(proxies).map(async ([f, p]) => {
      await sleep(500);
      if (f === 'delay') p.set('delay', { delayMs: 300 });
      else if (f === 'loss') p.set('loss', { lossRate: 0.1, rtoMs: 400 });
      else p.set(f as 'half-open' | 'blackhole');
      await sleep(P.proxySec * 1000);
      p.set('pass');
      const s = await recovery(ledger, [`e-${f}`]);
      const note = f === 'delay' ? '300 ms each way' : f === 'loss' ? '10% of chunks stalled 400 ms' : f === 'half-open' ? 'broker end dropped, client not told: its keepalive (30 s) finds out' : 'no bytes either way, then delivered';
      faults.push({ name: `proxy-${f}`, recoverySec: r1(s), note: `${note}; fault ${P.proxySec} s` });
      log(`proxy ${f} ${P.proxySec} s: recovery ${r1(s)} s (${JSON.stringify(p.stats)})`);
    }),
  ]);

  // 3. Disk full: the data dir's filesystem filled to the last byte, then freed.
  const filler = join(dataDir, 'filler');
  const fd = openSync(filler, 'w');
  const mb = Buffer.alloc(1 << 20, 1);
  try {
    for (;;) writeSync(fd, mb);
  } catch {
    /* ENOSPC: full */
  }
  try {
    for (;;) writeSync(fd, mb.subarray(0, 4096));
  } catch {
    /* to the last page */
  }
  closeSync(fd);
  const before = total(await ledger.counts());
  await sleep(P.diskSec * 1000);
  const during = total(await ledger.counts()) - before;
  const cloudAliveWhileFull = cloud.alive;
  unlinkSync(filler);
  if (!cloud.alive) await cloud.restart();
  const ds = await recovery(ledger, ['e-plain']);
  faults.push({ name: 'disk-full-cloud', recoverySec: r1(ds), note: `${P.diskSec} s full; committed while full: ${during}; cloud ${cloudAliveWhileFull ? 'stayed up' : 'exited (restarted)'}` });
  log(`disk full ${P.diskSec} s: ${during} committed while full, cloud ${cloudAliveWhileFull ? 'up' : 'DOWN'}, recovery ${r1(ds)} s`);

  await drained(edges, SHORT ? 90 : 300);
  const clockRefused = edges.filter((e) => e.spec.clockOffsetMs).map((e) => `${e.spec.name}: ${e.last.rejected} refused`).join(', ');
  faults.push({ name: 'edge-clock-ahead-1h', recoverySec: 0, note: clockRefused });
  faults.push({ name: 'edge-clock-behind-1h', recoverySec: 0, note: clockRefused });
  await verify('embedded', ledger, edges);
}

// ---------------------------------------------------------------- mosquitto rig
async function mosquittoRig(cleanups: Cleanups): Promise<void> {
  const site = `chaos-mosq-${process.pid}`;
  const dir = join(root, 'mosq');
  mkdirSync(dir);
  const mq = MosquittoProc.create(dir, await freePort());
  mq.start();
  cleanups.push(() => mq.kill());
  await sleep(300);
  const cloud = new CloudProc(['--data-dir', join(dir, 'cloud'), '--site', site, '--broker', `mqtt://127.0.0.1:${mq.port}`, '--client-id', `chaos-${process.pid}`], await freePort(), undefined);
  await cloud.start();
  cleanups.push(() => cloud.kill());
  const rate = Math.ceil(P.otherMovements / 2 / (P.cycles * 4 + 10));
  const edges = ['m-0', 'm-1'].map((name) => new EdgeProc({ name, broker: `mqtt://127.0.0.1:${mq.port}`, site, dir, rate }));
  for (const e of edges) e.start();
  cleanups.push(async () => {
    for (const e of edges) await e.kill();
  });
  const ledger = sqliteLedger(join(dir, 'cloud', 'stockgate.db'), site);
  cleanups.push(() => ledger.close());
  await recovery(ledger, ['m-0', 'm-1'], 60);
  await killCycles('sigkill-broker-mosquitto', ledger, ['m-0', 'm-1'], P.cycles, () => mq.kill('SIGKILL'), async () => mq.start());
  await drained(edges, SHORT ? 60 : 180);
  await verify('mosquitto', ledger, edges);
}

// ---------------------------------------------------------------- nats rig
async function natsRig(cleanups: Cleanups): Promise<void> {
  const site = `chaos-nats-${process.pid}`;
  const dir = join(root, 'nats');
  mkdirSync(dir);
  const cluster = await NatsCluster.start(dir);
  cleanups.push(() => cluster.stop());
  const lb = await FaultProxy.start({ upstreams: cluster.nodes.map((x) => ({ host: '127.0.0.1', port: x.mqttPort })) });
  cleanups.push(() => lb.close());
  const cloud = new CloudProc(['--data-dir', join(dir, 'cloud'), '--site', site, '--nats', cluster.natsUrls], await freePort(), undefined);
  await cloud.start();
  cleanups.push(() => cloud.kill());
  const rate = Math.ceil(P.otherMovements / 2 / (P.cycles * 6 + 10));
  const edges = ['n-0', 'n-1'].map((name) => new EdgeProc({ name, broker: `mqtt://127.0.0.1:${lb.port}`, site, dir, rate }));
  for (const e of edges) e.start();
  cleanups.push(async () => {
    for (const e of edges) await e.kill();
  });
  const ledger = sqliteLedger(join(dir, 'cloud', 'stockgate.db'), site);
  cleanups.push(() => ledger.close());
  await recovery(ledger, ['n-0', 'n-1'], 60);
  let k = 0;
  // Recovery here is measured from the restart, but ingest goes on through the 2 live nodes.
  await killCycles('sigkill-broker-nats-node', ledger, ['n-0', 'n-1'], P.cycles, () => cluster.killNode(k++ % 3), async () => {
    cluster.startNode((k - 1) % 3);
    // Listening is enough here: the cluster serves on the other two meanwhile.
    await cluster.waitUp((k - 1) % 3, 60_000, false);
  });
  await drained(edges, SHORT ? 60 : 180);
  await verify('nats', ledger, edges);
}

// ---------------------------------------------------------------- postgres rig
async function postgresRig(cleanups: Cleanups): Promise<void> {
  const site = `chaos-pg-${process.pid}`;
  const dir = join(root, 'pg');
  const db = await PostgresProc.create(dir, await freePort());
  cleanups.push(() => db.stop());
  const cloud = new CloudProc(['--data-dir', join(root, 'pg-cloud'), '--site', site, '--store', db.url], await freePort(), await freePort());
  await cloud.start();
  cleanups.push(() => cloud.kill());
  const rate = Math.ceil(P.otherMovements / 2 / (P.pgRestarts * 8 + 10));
  const edges = ['p-0', 'p-1'].map((name) => new EdgeProc({ name, broker: `mqtt://127.0.0.1:${cloud.mqttPort}`, site, dir: root, rate }));
  for (const e of edges) e.start();
  cleanups.push(async () => {
    for (const e of edges) await e.kill();
  });
  const ledger = pgLedger(db.url, site);
  cleanups.push(() => ledger.close());
  await recovery(ledger, ['p-0', 'p-1'], 60);
  const rec: number[] = [];
  for (let i = 0; i < P.pgRestarts; i++) {
    await sleep(1000);
    db.stopImmediate();
    await sleep(P.downSec * 1000);
    db.start();
    rec.push(await recovery(ledger, ['p-0', 'p-1']));
    if (!cloud.alive) throw new Error(`the cloud exited when PostgreSQL restarted: ${cloud.stderrTail}`);
  }
  faults.push({ name: 'postgres-restart-immediate', recoverySec: r1(median(rec)), maxRecoverySec: r1(Math.max(...rec)), cycles: P.pgRestarts });
  log(`postgres restart: recovery median ${r1(median(rec))} s`);
  await drained(edges, SHORT ? 60 : 180);
  await verify('postgres', ledger, edges);
}

async function main(): Promise<number> {
  const started = Date.now();
  const rigs: Record<string, (c: Cleanups) => Promise<void>> = { embedded: embeddedRig, mosquitto: mosquittoRig, nats: natsRig, postgres: postgresRig };
  const only = args.only?.split(',');
  const errors: string[] = [];
  const runRig = async (name: string, rig: (c: Cleanups) => Promise<void>) => {
    const cleanups: Cleanups = [];
    allCleanups.add(cleanups);
    try {
      await rig(cleanups);
    } catch (err) {
      errors.push(`${name}: ${(err as Error).message}`);
      log(`rig ${name} FAILED: ${(err as Error).stack}`);
    } finally {
      for (const c of cleanups.splice(0).reverse()) await Promise.resolve().then(c).catch(() => undefined);
      allCleanups.delete(cleanups);
    }
  };
  const selected = Object.entries(rigs).filter(([name]) => !only || only.includes(name));
  // The short form (CI) runs the rigs side by side to stay within ~3 minutes; the full run one
  // after the other, so that recovery times are not inflated by the other rigs' load.
  if (SHORT) await Promise.all(selected.map(([name, rig]) => runRig(name, rig)));
  else for (const [name, rig] of selected) await runRig(name, rig);
  rmSync(root, { recursive: true, force: true });
  const lost = checks.reduce((a, c) => a + c.lost, 0);
  const doubled = checks.reduce((a, c) => a + c.doubled, 0);
  const refused = checks.reduce((a, c) => a + c.refused, 0);
  const result = {
    at: new Date().toISOString(),
    mode: SHORT ? 'short' : 'full',
    seconds: r1((Date.now() - started) / 1000),
    lost,
    doubled,
    refusedWithFeedback: refused,
    sent: checks.reduce((a, c) => a + c.sent, 0),
    faults,
    edges: checks,
    errors,
  };
  mkdirSync(args.out!, { recursive: true });
  writeFileSync(join(args.out!, 'chaos-latest.json'), `${JSON.stringify(result, null, 2)}\n`);
  for (const f of faults) process.stdout.write(`${f.name.padEnd(32)} recovery ${String(f.recoverySec).padStart(6)} s${f.cycles ? ` (median of ${f.cycles}, max ${f.maxRecoverySec})` : ''}${f.note ? `  ${f.note}` : ''}\n`);
  process.stdout.write(`sent ${result.sent}, lost ${lost}, doubled ${doubled}, refused with feedback ${refused}, ${result.seconds} s${errors.length ? `, errors: ${errors.join('; ')}` : ''}\n`);
  process.stdout.write(`${JSON.stringify({ event: 'chaos-summary', lost, doubled, faults: faults.map((f) => ({ name: f.name, recoverySec: f.recoverySec })) })}\n`);
  return lost === 0 && doubled === 0 && errors.length === 0 && checks.every((c) => c.backlog === 0) ? 0 : 1;
}

process.on('SIGINT', () => {
  void (async () => {
    for (const list of allCleanups) for (const c of list.splice(0).reverse()) await Promise.resolve().then(c).catch(() => undefined);
    process.exit(130);
  })();
});

process.exitCode = await main();
// Stray handles (sockets of killed peers) must not keep the run alive.
setTimeout(() => process.exit(process.exitCode ?? 0), 500).unref();
