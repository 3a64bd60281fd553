import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteOutbox } from '../../edge/outbox/sqlite.js';
import { Publisher } from '../../edge/publisher.js';
import { getJson, spawnSharedIngesters, spawnStockgate, tempDir, uniqueId, waitFor, type Proc } from '../helpers/procs.js';
import { receiveDraft } from '../helpers/movements.js';

/** The PostgreSQL of the test machine (trust auth), as the store tests; override with STOCKGATE_TEST_PG. */
const PG = process.env.STOCKGATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const BROKER = 'mqtt://127.0.0.1:1883';
const EDGES = 4;
const TOTAL = 100_000;
const PER_EDGE = TOTAL / EDGES;

const draft = (i: number, edge: number) => receiveDraft(i, edge, 500);

/**
 * Scale-out acceptance: two `stockgate cloud` ingesters in one shared-subscription group on the
 * Mosquitto at 127.0.0.1:1883, one PostgreSQL schema. Four simulated edges (real SQLite outbox +
 * Publisher) send 100,000 movements; one ingester is SIGKILLed mid-stream and not restarted. Every
 * movement must be in the ledger exactly once and every outbox must drain (everything acked).
 */
describe('e2e scale-out: 2 ingesters, shared subscription, PostgreSQL', () => {
  const site = uniqueId('scale');
  const schema = `sg_scale_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const group = `g-${site}`;
  const admin = new pg.Pool({ connectionString: PG, max: 2 });
  const dir = tempDir();
  const clouds: Proc[] = [];

  beforeAll(async () => {
    await admin.query(`CREATE SCHEMA "${schema}"`);
    // Both start at once: their migrations serialise on the advisory lock.
    const url = `${PG}${PG.includes('?') ? '&' : '?'}options=-csearch_path%3D${schema}`;
    clouds.push(...(await spawnSharedIngesters(dir, site, BROKER, url)));
  });

  afterAll(async () => {
    for (const c of clouds) await c.kill();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await admin.end();
  });

  it('refuses --shared-group without an external broker, naming the field', async () => {
    await expect(
      spawnStockgate(['cloud', '--data-dir', join(dir, 'no-broker'), '--mqtt-port', '0', '--http-port', '0', '--insecure', '--shared-group', group]),
    ).rejects.toThrow(/--shared-group: needs an external broker/);
  });

  it('applies 100,000 movements exactly once and acks them all across SIGKILL of one ingester', async () => {
    const health = (c: Proc) => getJson<{ ingest: { applied: number; duplicates: number } }>(`http://127.0.0.1:${c.ready.httpPort as number}/healthz`);
    const edges = Array.from({ length: EDGES }, (_, e) => {
      const edge = `edge-${e}`;
      const outbox = new SqliteOutbox({ path: join(dir, `${edge}.db`), site, edge });
      // Short ack timeout: the batches the killed ingester held are resent after it.
      const pub = new Publisher(outbox, { broker: BROKER, site, edge, batchSize: 500, window: 8, ackTimeoutMs: 3000 });
      let acked = 0;
      pub.on('acked', (n) => (acked += n));
      pub.start();
      return { outbox, pub, acked: () => acked };
    });
    const ackedTotal = () => edges.reduce((a, e) => a + e.acked(), 0);
    try {
      // Feed the outboxes as fast as they take it, the publishers drain concurrently.
      const feeding = Promise.all(
        edges.map(async (e, k) => {
          for (let i = 0; i < PER_EDGE; i += 500) {
            e.outbox.append(Array.from({ length: 500 }, (_, j) => draft(i + j, k)));
            e.pub.kick();
            await new Promise((r) => setImmediate(r));
          }
        }),
      );
      // Both ingesters take part, then one dies mid-stream.
      await waitFor(async () => ackedTotal() >= TOTAL * 0.25 && (await Promise.all(clouds.map(health))).every((h) => h.ingest.applied > 0), 'both ingesters applying', 60_000, 20);
      const before = ackedTotal();
      await clouds[0]!.kill('SIGKILL');
      expect(before).toBeLessThan(TOTAL);
      await feeding;
      await waitFor(() => edges.every((e) => e.outbox.backlog().count === 0), 'every outbox drained (all acked)', 90_000, 50).catch(async (err: Error) => {
        // Once in many CI runs this wait timed out (cause unknown; alone it passes in seconds):
        // say where each edge and the survivor stood, for the next time.
        const state = edges.map((e, k) => ({ edge: k, backlog: e.outbox.backlog().count, connected: e.pub.isConnected, ...e.pub.stats }));
        const survivor = await health(clouds[1]!).catch((e: Error) => e.message);
        const rows = await admin.query(`SELECT edge, count(*)::int AS n FROM "${schema}".ledger WHERE site = $1 GROUP BY edge ORDER BY edge`, [site]).then((r) => r.rows, (e: Error) => e.message);
        throw new Error(`${err.message}\nedges: ${JSON.stringify(state)}\nsurvivor /healthz: ${JSON.stringify(survivor)}\nledger rows per edge: ${JSON.stringify(rows)}`);
      });

      const ledger = await admin.query(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids FROM "${schema}".ledger WHERE site = $1`, [site]);
      expect(ledger.rows[0]).toEqual({ n: TOTAL, ids: TOTAL });
      // Balances are integer thousandths of the base uom (issue 9).
      const stock = await admin.query(`SELECT sum(on_hand)::bigint AS s FROM "${schema}".balances WHERE site = $1`, [site]);
      expect(Number(stock.rows[0].s)).toBe(TOTAL * 1000);
      const perEdge = await admin.query(`SELECT edge, count(*)::int AS n, max(seq)::int AS top FROM "${schema}".ledger WHERE site = $1 GROUP BY edge ORDER BY edge`, [site]);
      expect(perEdge.rows).toEqual(edges.map((_, e) => ({ edge: `edge-${e}`, n: PER_EDGE, top: PER_EDGE })));
      // The survivor serves the API on the shared ledger.
      const totals = await getJson<{ items: Array<{ onHand: number }> }>(`http://127.0.0.1:${clouds[1]!.ready.httpPort as number}/api/v1/stock/totals?site=${site}`);
      expect(totals.items.reduce((a, r) => a + r.onHand, 0)).toBe(TOTAL);
    } finally {
      for (const e of edges) {
        await e.pub.stop();
        e.outbox.close();
      }
    }
  }, 150_000);
});
