import mqtt from 'mqtt';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BoardFrame, BoardSnapshot } from '../../protocols/http/board.js';
import { topics } from '../../protocols/mqtt/index.js';
import { batch, movement } from '../helpers/movements.js';
import { getJson, spawnSharedIngesters, tempDir, uniqueId, waitFor, type Proc } from '../helpers/procs.js';
import { openSse } from '../helpers/sse.js';

const PG = process.env.STOCKGATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const BROKER = 'mqtt://127.0.0.1:1883';

/**
 * Issue 12 #4: the board is fed from the ledger, not from the ingester serving it. Two ingesters in
 * one shared-subscription group (Mosquitto at 127.0.0.1:1883, one PostgreSQL schema); a board
 * stream on ingester A shows every movement, including those ingester B applied.
 */
describe('e2e board across two ingesters (Mosquitto shared group, PostgreSQL)', () => {
  const site = uniqueId('b2i');
  const schema = `sg_b2i_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Pool({ connectionString: PG, max: 1 });
  const dir = tempDir();
  const clouds: Proc[] = [];

  beforeAll(async () => {
    await admin.query(`CREATE SCHEMA "${schema}"`);
    const url = `${PG}${PG.includes('?') ? '&' : '?'}options=-csearch_path%3D${schema}`;
    clouds.push(...(await spawnSharedIngesters(dir, site, BROKER, url)));
  });

  afterAll(async () => {
    for (const c of clouds) await c.kill();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await admin.end();
  });

  it('a board on ingester A shows the movements ingester B applied', async () => {
    const http = (c: Proc) => `http://127.0.0.1:${c.ready.httpPort as number}`;
    const board = await openSse(`${http(clouds[0]!)}/board/events?site=${site}`);
    try {
      const snap = BoardSnapshot.parse(JSON.parse((await board.next((e) => e.event === 'snapshot')).data));
      expect(snap.stock).toEqual([]);
      const client = await mqtt.connectAsync(BROKER, { clientId: `${site}-edge`, clean: true });
      const N = 24;
      // One movement per publish: the broker hands each message to one member of the group.
      for (let seq = 1; seq <= N; seq++) {
        const m = movement({ site, edge: 'e1', seq, sku: `SKU-${seq % 3}`, qty: 1, raw: `SKU-${seq % 3}` });
        await client.publishAsync(topics.movements(site, 'e1'), JSON.stringify(batch(site, 'e1', [m])), { qos: 1 });
      }
      await client.endAsync();
      const applied = async (c: Proc) => (await getJson<{ ingest: { applied: number } }>(`${http(c)}/healthz`)).ingest.applied;
      await waitFor(async () => (await applied(clouds[0]!)) + (await applied(clouds[1]!)) === N, `${N} movements applied`, 30_000);
      const byB = await applied(clouds[1]!);
      expect(byB).toBeGreaterThan(0);
      expect(await applied(clouds[0]!)).toBeLessThan(N);
      // Every movement reaches A's board, and its balances equal the REST view.
      const seen = new Set<number>();
      const stock = new Map<string, number>();
      await waitFor(() => {
        for (const e of board.events) {
          if (e.event !== 'frame') continue;
          const f = BoardFrame.parse(JSON.parse(e.data));
          for (const m of f.feed) seen.add(m.pos);
          for (const r of f.stock) stock.set(r.sku, r.onHand);
        }
        return seen.size === N;
      }, `all ${N} movements on A's board (B applied ${byB})`, 15_000);
      const rest = await getJson<{ items: Array<{ sku: string; onHand: number }> }>(`${http(clouds[0]!)}/api/v1/stock?site=${site}`);
      expect(Object.fromEntries(stock)).toEqual(Object.fromEntries(rest.items.map((r) => [r.sku, r.onHand])));
    } finally {
      board.close();
    }
  });
});
