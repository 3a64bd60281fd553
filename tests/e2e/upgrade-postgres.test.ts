import { cpSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnStockgate, tempDir, waitFor, type Proc } from '../helpers/procs.js';

/** The PostgreSQL of the test machine (trust auth), as the store tests; override with STOCKGATE_TEST_PG. */
const PG = process.env.STOCKGATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'pg-0.1.0');
const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8'));
const creds = JSON.parse(readFileSync(join(FIXTURE, 'credentials.json'), 'utf8')) as { adminToken: string; edge: { username: string; password: string } };

type Row = Record<string, unknown>;
const pick = (r: Row, keys: string[]) => Object.fromEntries(keys.map((k) => [k, r[k] ?? null]));
const BALANCE = ['site', 'location', 'sku', 'batch', 'project', 'onHand', 'uom', 'expiry'];
const sortBy = (rows: Row[], keys: string[]) => [...rows].sort((a, b) => (JSON.stringify(keys.map((k) => a[k])) < JSON.stringify(keys.map((k) => b[k])) ? -1 : 1));

/**
 * Upgrade acceptance on PostgreSQL (issue 9): a 0.1 deployment (`tests/fixtures/pg-0.1.0/`: the
 * ledger and alerts in a schema, versions in `schema_migrations` and `alert_migrations`, the
 * credentials in the data dir's auth.db) opened by today's `stockgate cloud --store`: the modules
 * adopt their recorded versions, auth.db is copied into the schema, nothing is lost.
 */
describe('e2e upgrade: a 0.1 PostgreSQL deployment opens in the one schema with nothing lost', () => {
  const schema = `sg_pgup_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const url = `${PG}${PG.includes('?') ? '&' : '?'}options=-csearch_path%3D${schema}`;
  const admin = new pg.Pool({ connectionString: PG, max: 2 });
  const dir = join(tempDir('sg-pgup-'), 'data');
  let cloud: Proc;
  let base = '';
  const get = async (path: string) => {
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${creds.adminToken}` } });
    return { status: res.status, json: (await res.json()) as any };
  };

  beforeAll(async () => {
    // The dump under a fresh schema name (its own session: the dump empties search_path).
    const dump = readFileSync(join(FIXTURE, 'schema.sql'), 'utf8').replaceAll('sg_fixture_010', schema);
    const c = new pg.Client({ connectionString: PG });
    await c.connect();
    try {
      await c.query(dump);
    } finally {
      await c.end();
    }
    cpSync(join(FIXTURE, 'data'), dir, { recursive: true });
    cloud = await spawnStockgate(['cloud', '--data-dir', dir, '--store', url, '--mqtt-port', '0', '--http-port', '0']);
    base = `http://127.0.0.1:${cloud.ready.httpPort as number}`;
  });
  afterAll(async () => {
    await cloud?.kill();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await admin.end();
  });

  it('adopts the ledger and alert versions of 0.1 (with their dates) and copies auth.db into the schema', async () => {
    const { rows } = await admin.query(`SELECT module, version, applied_at FROM "${schema}".db_migrations ORDER BY module, version`);
    const legacy = (await admin.query(`SELECT version, applied_at FROM "${schema}".schema_migrations`)).rows[0];
    expect(rows.find((r) => r.module === 'ledger' && r.version === 1)?.applied_at).toBe(legacy.applied_at);
    expect(rows.map((r) => `${r.module}:${r.version}`)).toEqual(expect.arrayContaining(['ledger:1', 'alerts:1', 'auth:1']));
    expect((await admin.query(`SELECT count(*)::int AS n FROM "${schema}".tokens`)).rows[0].n).toBe(1);
    expect(existsSync(join(dir, 'auth.db'))).toBe(false);
    expect(existsSync(join(dir, 'auth.db.imported-0.1'))).toBe(true);
    expect(cloud.logs.some((l) => typeof l.msg === 'string' && /^upgrade: imported .*auth\.db into postgres:\/\/.* \(mqtt_users 1\/1, tokens 1\/1\)$/.test(l.msg))).toBe(true);
  });

  it('keeps balances, totals, ledger rows, alerts and webhooks; the old admin token reads them', async () => {
    const stock = await get('/api/v1/stock?limit=1000');
    expect(stock.status).toBe(200);
    expect(sortBy(stock.json.items, BALANCE).map((r: Row) => pick(r, BALANCE))).toEqual(sortBy(expected.stock, BALANCE).map((r: Row) => pick(r, BALANCE)));
    const key = ['site', 'sku', 'onHand', 'uom'];
    expect(sortBy((await get('/api/v1/stock/totals')).json.items, key).map((r: Row) => pick(r, key))).toEqual(sortBy(expected.totals, key).map((r: Row) => pick(r, key)));
    const mkey = ['pos', 'id', 'edge', 'seq', 'site', 'location', 'kind', 'sku', 'qty', 'uom', 'batch', 'ts'];
    expect((await get('/api/v1/movements?limit=1000')).json.items.map((r: Row) => pick(r, mkey))).toEqual(expected.movements.items.map((r: Row) => pick(r, mkey)));
    const akey = ['id', 'type', 'site', 'sku', 'state', 'raisedAt'];
    expect((await get('/api/v1/alerts?state=all')).json.items.map((r: Row) => pick(r, akey))).toEqual(expected.alerts.map((r: Row) => pick(r, akey)));
    expect((await get('/api/v1/webhooks')).json.items).toEqual(expected.webhooks.items);
  });

  it('the old edge password still connects; its seqs continue at 2 without a gap', async () => {
    const edge = await mqtt.connectAsync(`mqtt://127.0.0.1:${cloud.ready.mqttPort as number}`, { username: creds.edge.username, password: creds.edge.password, clientId: 'dock-1', reconnectPeriod: 0 });
    try {
      const acks: Array<{ ranges: number[][]; missing?: number[] }> = [];
      edge.on('message', (_t, p) => acks.push(JSON.parse(p.toString())));
      await edge.subscribeAsync('stockgate/v1/depot-1/dock-1/acks', { qos: 1 });
      const m = {
        v: 1, id: '01PGFIXTUREEDGE0000000002', edge: 'dock-1', site: 'depot-1', seq: 2, ts: '2026-12-06T09:00:00.000Z', location: 'A-01',
        kind: 'receive', sku: 'CEMENT-50KG', qty: 5, uom: 'bag', batch: 'L2', device: { id: 'scanner-1', type: 'scanner' }, raw: 'after upgrade',
      };
      await edge.publishAsync('stockgate/v1/depot-1/dock-1/movements', JSON.stringify({ v: 1, site: 'depot-1', edge: 'dock-1', sentAt: m.ts, movements: [m] }), { qos: 1 });
      const ack = await waitFor(() => acks.find((a) => a.ranges.some(([from, to]) => from! <= 2 && 2 <= to!)), 'the ack of seq 2', 15_000);
      expect(ack!.missing ?? []).toEqual([]);
    } finally {
      await edge.endAsync();
    }
    const l2 = (await get('/api/v1/stock?site=depot-1&sku=CEMENT-50KG')).json.items.find((r: Row) => r.batch === 'L2');
    expect(l2.onHand).toBe(8); // 3 before the upgrade, + 5 after
  });
});
