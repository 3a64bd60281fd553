import { join } from 'node:path';
import { connect } from 'nats';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultProxy } from '../../bench/chaos/fault-proxy.js';
import { NatsCluster } from '../../bench/chaos/nats-cluster.js';
import { NATS_STREAM } from '../../cloud/broker/nats.js';
import { SqliteOutbox } from '../../edge/outbox/sqlite.js';
import { Publisher } from '../../edge/publisher.js';
import { getJson, spawnStockgate, tempDir, uniqueId, waitFor, type Proc } from '../helpers/procs.js';
import { receiveDraft } from '../helpers/movements.js';

/** The PostgreSQL of the test machine (trust auth), as the store tests; override with STOCKGATE_TEST_PG. */
const PG = process.env.STOCKGATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const EDGES = 3;
const PER_EDGE = 6000;
const TOTAL = EDGES * PER_EDGE;

const draft = (i: number, edge: number) => receiveDraft(i, edge, 200);

/**
 * Issue 14 §5: `stockgate cloud --nats` on a 3-node NATS cluster (JetStream R3 + MQTT) that the
 * test starts on free ports. Two ingesters share one durable consumer on one PostgreSQL schema;
 * edges (real SQLite outbox + Publisher, unchanged MQTT code) reach the cluster's MQTT listeners
 * through a TCP balancer (any live node). Mid-stream the stream's leader node and one ingester are
 * SIGKILLed: every movement must be in the ledger exactly once (ids compared with the sent ids)
 * and every outbox must drain.
 */
describe('e2e NATS cluster: 2 ingesters, JetStream R3, one node and one ingester killed', () => {
  const site = uniqueId('nats');
  const schema = `sg_nats_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Pool({ connectionString: PG, max: 2 });
  const dir = tempDir('sg-nats-');
  const clouds: Proc[] = [];
  let cluster: NatsCluster;
  let lb: FaultProxy;

  beforeAll(async () => {
    cluster = await NatsCluster.start(join(dir, 'nats'));
    lb = await FaultProxy.start({ upstreams: cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.mqttPort })) });
    await admin.query(`CREATE SCHEMA "${schema}"`);
    const url = `${PG}${PG.includes('?') ? '&' : '?'}options=-csearch_path%3D${schema}`;
    clouds.push(
      ...(await Promise.all(
        [0, 1].map((n) =>
          spawnStockgate(
            ['cloud', '--data-dir', join(dir, `cloud-${n}`), '--http-port', '0', '--insecure', '--nats', cluster.natsUrls, '--site', site,
              '--store', url, '--shared-group', 'ingest', '--client-id', `${site}-ingester-${n}`],
            { env: { STOCKGATE_LOG_LEVEL: 'warn' }, timeoutMs: 60_000 },
          ),
        ),
      )),
    );
  }, 150_000);

  afterAll(async () => {
    for (const c of clouds) await c.kill();
    await lb?.close();
    await cluster?.stop();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await admin.end();
  });

  it('refuses --nats together with --broker, naming the field', async () => {
    await expect(
      spawnStockgate(['cloud', '--data-dir', join(dir, 'both'), '--http-port', '0', '--insecure', '--broker', 'mqtt://127.0.0.1:1', '--nats', cluster.natsUrls]),
    ).rejects.toThrow(/--nats: use either --broker or --nats/);
  });

  it('applies every movement exactly once across SIGKILL of the stream leader node and of one ingester', async () => {
    const health = (c: Proc) => getJson<{ ingest: { applied: number } }>(`http://127.0.0.1:${c.ready.httpPort as number}/healthz`);
    const broker = `mqtt://127.0.0.1:${lb.port}`;
    const edges = Array.from({ length: EDGES }, (_, e) => {
      const edge = `edge-${e}`;
      const outbox = new SqliteOutbox({ path: join(dir, `${edge}.db`), site, edge });
      // Short ack timeout: the batches the killed node or ingester held are resent after it.
      const pub = new Publisher(outbox, { broker, site, edge, batchSize: 250, window: 8, ackTimeoutMs: 3000, reconnectMaxMs: 500 });
      let acked = 0;
      pub.on('acked', (n) => (acked += n));
      pub.on('error', () => undefined);
      pub.start();
      return { outbox, pub, acked: () => acked };
    });
    const ackedTotal = () => edges.reduce((a, e) => a + e.acked(), 0);
    const nc = await connect({ servers: cluster.natsUrls.split(','), maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    try {
      const feeding = Promise.all(
        edges.map(async (e, k) => {
          for (let i = 0; i < PER_EDGE; i += 250) {
            e.outbox.append(Array.from({ length: 250 }, (_, j) => draft(i + j, k)));
            e.pub.kick();
            await new Promise((r) => setTimeout(r, 5));
          }
        }),
      );
      // Both ingesters take part (one durable consumer, competing pulls), then the faults.
      await waitFor(async () => ackedTotal() >= TOTAL * 0.15 && (await Promise.all(clouds.map(health))).every((h) => h.ingest.applied > 0), 'both ingesters applying', 60_000, 20);
      const info = await (await nc.jetstreamManager()).streams.info(NATS_STREAM);
      expect(info.config.num_replicas).toBe(3);
      const leader = cluster.nodes.findIndex((n) => n.name === info.cluster?.leader);
      expect(leader).toBeGreaterThanOrEqual(0);
      const before = ackedTotal();
      await cluster.killNode(leader);
      await clouds[0]!.kill('SIGKILL');
      expect(before).toBeLessThan(TOTAL);
      await feeding;
      await waitFor(() => edges.every((e) => e.outbox.backlog().count === 0), 'every outbox drained (all acked)', 60_000, 50).catch(async (err) => {
        console.error('DEBUG', ackedTotal(), edges.map((e) => e.outbox.backlog().count), JSON.stringify(await getJson(`http://127.0.0.1:${clouds[1]!.ready.httpPort as number}/healthz`)), lb.stats, lb.live);
        console.error(JSON.stringify(await (await nc.jetstreamManager()).consumers.info(NATS_STREAM, `ingest-${site}`).catch((e) => String(e))));
        console.error(clouds[1]!.stderr().slice(-3000));
        throw err;
      });

      // Exactly once: the ledger's ids are the sent ids (edge, seq 1..PER_EDGE), each once.
      const perEdge = await admin.query(`SELECT edge, count(*)::int AS n, count(DISTINCT id)::int AS ids, min(seq)::int AS lo, max(seq)::int AS hi FROM "${schema}".ledger WHERE site = $1 GROUP BY edge ORDER BY edge`, [site]);
      expect(perEdge.rows).toEqual(edges.map((_, e) => ({ edge: `edge-${e}`, n: PER_EDGE, ids: PER_EDGE, lo: 1, hi: PER_EDGE })));
      const stock = await admin.query(`SELECT sum(on_hand)::bigint AS s FROM "${schema}".balances WHERE site = $1`, [site]);
      expect(Number(stock.rows[0].s)).toBe(TOTAL * 1000);
      // The survivor went on through the node loss; it reports its JetStream acks.
      const h = await getJson<{ broker: { acks: number } }>(`http://127.0.0.1:${clouds[1]!.ready.httpPort as number}/healthz`);
      expect(h.broker.acks).toBeGreaterThan(0);
    } finally {
      await nc.close();
      for (const e of edges) {
        await e.pub.stop();
        e.outbox.close();
      }
    }
  }, 150_000);
});
