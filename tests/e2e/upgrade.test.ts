import { cpSync, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnStockgate, tempDir, waitFor, type Proc } from '../helpers/procs.js';

/**
 * Upgrade acceptance (issue 9): a data dir written by stockgate 0.1 (three SQLite files:
 * ledger.db, alerts.db, auth.db; `tests/fixtures/datadir-0.1.0/`, made with that release) is
 * opened by today's `stockgate cloud` with authentication on. Nothing is lost: balances, ledger
 * rows, exceptions, alerts (with their acks), webhooks; the old admin token, a site-scoped token,
 * the edge's and the alerts reader's MQTT passwords still work; the edge's seq tracking goes on
 * where it stopped. A second start changes nothing.
 */
const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'datadir-0.1.0');
const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8'));
const creds = JSON.parse(readFileSync(join(FIXTURE, 'credentials.json'), 'utf8')) as {
  adminToken: string;
  managerToken: string;
  edge: { username: string; password: string };
  alertsUser: { username: string; password: string };
};

type Row = Record<string, unknown>;
const pick = (r: Row, keys: string[]) => Object.fromEntries(keys.map((k) => [k, r[k] ?? null]));
const BALANCE = ['site', 'location', 'sku', 'batch', 'project', 'onHand', 'uom', 'expiry'];
const sortBy = (rows: Row[], keys: string[]) => [...rows].sort((a, b) => (JSON.stringify(keys.map((k) => a[k])) < JSON.stringify(keys.map((k) => b[k])) ? -1 : 1));

describe('e2e upgrade: a 0.1 data dir opens in the one database with nothing lost', () => {
  const dir = join(tempDir('sg-upgrade-'), 'data');
  let cloud: Proc;
  let url: string;
  const get = async (path: string, token = creds.adminToken) => {
    const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, json: (await res.json()) as any };
  };
  const start = async () => {
    cloud = await spawnStockgate(['cloud', '--data-dir', dir, '--mqtt-port', '0', '--http-port', '0']);
    url = `http://127.0.0.1:${cloud.ready.httpPort as number}`;
  };

  beforeAll(async () => {
    cpSync(join(FIXTURE, 'data'), dir, { recursive: true });
    await start();
  });
  afterAll(() => cloud?.kill());

  it('makes one file of the three, keeping the imported ones aside, and logs each step', () => {
    expect(existsSync(join(dir, 'stockgate.db'))).toBe(true);
    expect(existsSync(join(dir, 'ledger.db'))).toBe(false);
    expect(existsSync(join(dir, 'auth.db'))).toBe(false);
    expect(existsSync(join(dir, 'alerts.db'))).toBe(false);
    expect(existsSync(join(dir, 'auth.db.imported-0.1'))).toBe(true);
    expect(existsSync(join(dir, 'alerts.db.imported-0.1'))).toBe(true);
    // It holds the credential hashes now (auth.db was 0600).
    expect(statSync(join(dir, 'stockgate.db')).mode & 0o777).toBe(0o600);
    const steps = cloud.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('upgrade: ')).map((l) => l.msg as string);
    expect(steps).toEqual([
      expect.stringMatching(/^upgrade: ledger\.db is now .*stockgate\.db$/),
      expect.stringMatching(/^upgrade: imported .*auth\.db into the auth module \(mqtt_users 2, tokens 2\)$/),
      expect.stringMatching(/auth\.db kept as .*auth\.db\.imported-0\.1$/),
      expect.stringMatching(/^upgrade: imported .*alerts\.db into the alerts module \(alerts 2, cursors \d+, deliveries \d+, stock_levels 2, webhooks 1\)$/),
      expect.stringMatching(/alerts\.db kept as .*alerts\.db\.imported-0\.1$/),
    ]);
  });

  it('keeps every balance, total, ledger row and exception, read with the old admin token', async () => {
    const stock = await get('/api/v1/stock?limit=1000');
    expect(stock.status).toBe(200);
    expect(sortBy(stock.json.items, BALANCE).map((r: Row) => pick(r, BALANCE))).toEqual(sortBy(expected.stock, BALANCE).map((r: Row) => pick(r, BALANCE)));
    const totals = await get('/api/v1/stock/totals');
    const key = ['site', 'sku', 'onHand', 'uom'];
    expect(sortBy(totals.json.items, key).map((r: Row) => pick(r, key))).toEqual(sortBy(expected.totals, key).map((r: Row) => pick(r, key)));
    const mv = await get('/api/v1/movements?limit=1000');
    const mkey = ['pos', 'id', 'edge', 'seq', 'site', 'location', 'kind', 'sku', 'qty', 'uom', 'batch', 'ts'];
    expect(mv.json.items.map((r: Row) => pick(r, mkey))).toEqual(expected.movements.items.map((r: Row) => pick(r, mkey)));
    const ex = await get('/api/v1/exceptions?state=all');
    const ekey = ['id', 'type', 'movementId', 'sku', 'state'];
    expect(ex.json.items.map((r: Row) => pick(r, ekey))).toEqual(expected.exceptions.map((r: Row) => pick(r, ekey)));
  });

  it('keeps alerts (open, acked), webhooks and tokens', async () => {
    const alerts = await get('/api/v1/alerts?state=all');
    const akey = ['id', 'type', 'site', 'sku', 'state', 'raisedAt', 'ackedAt', 'ackedBy'];
    expect(alerts.json.items.map((r: Row) => pick(r, akey))).toEqual(expected.alerts.map((r: Row) => pick(r, akey)));
    expect(alerts.json.items.filter((a: Row) => a.ackedBy === 'token:7bae4991160f190d')).toHaveLength(1);
    expect((await get('/api/v1/webhooks')).json.items).toEqual(expected.webhooks.items);
    const tokens = (await get('/api/v1/tokens')).json.items as Row[];
    expect(tokens.map((t) => pick(t, ['id', 'name', 'roles', 'sites']))).toEqual(expected.tokens.items.map((t: Row) => pick(t, ['id', 'name', 'roles', 'sites'])));
  });

  it('the old tokens keep their rights: admin everywhere, the site-scoped one on its site only', async () => {
    expect((await get('/api/v1/stock?site=depot-1', creds.managerToken)).status).toBe(200);
    expect((await get('/api/v1/stock?site=depot-2', creds.managerToken)).status).toBe(403);
    expect((await get('/api/v1/tokens', creds.managerToken)).status).toBe(403);
    expect((await get('/api/v1/stock', 'sgt_7bae4991160f190d_wrongwrongwrongwrongwrongwrongwrongwrongwro')).status).toBe(401);
    // And the one database takes new credentials.
    const res = await fetch(`${url}/api/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${creds.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'after upgrade', roles: ['operator'] }),
    });
    expect(res.status).toBe(201);
    const fresh = ((await res.json()) as { token: string }).token;
    expect((await get('/api/v1/stock', fresh)).status).toBe(200);
  });

  it('the old edge password still connects and publishes; its seqs continue at 3 without a gap', async () => {
    const broker = `mqtt://127.0.0.1:${cloud.ready.mqttPort as number}`;
    await expect(mqtt.connectAsync(broker, { username: creds.edge.username, password: 'not-the-password', clientId: 'dock-1-bad', reconnectPeriod: 0 })).rejects.toThrow();
    const edge = await mqtt.connectAsync(broker, { username: creds.edge.username, password: creds.edge.password, clientId: 'dock-1', reconnectPeriod: 0 });
    try {
      const acks: Array<{ ranges: number[][]; missing?: number[] }> = [];
      edge.on('message', (_t, p) => acks.push(JSON.parse(p.toString())));
      await edge.subscribeAsync('stockgate/v1/depot-1/dock-1/acks', { qos: 1 });
      const m = {
        v: 1, id: '01FIXTUREEDGE0000000000003', edge: 'dock-1', site: 'depot-1', seq: 3, ts: '2026-12-06T09:00:00.000Z', location: 'A-01',
        kind: 'receive', sku: 'CEMENT-50KG', qty: 5, uom: 'bag', batch: 'L2', device: { id: 'scanner-1', type: 'scanner' }, raw: 'after upgrade',
      };
      await edge.publishAsync('stockgate/v1/depot-1/dock-1/movements', JSON.stringify({ v: 1, site: 'depot-1', edge: 'dock-1', sentAt: m.ts, movements: [m] }), { qos: 1 });
      const ack = await waitFor(() => acks.find((a) => a.ranges.some(([from, to]) => from! <= 3 && 3 <= to!)), 'the ack of seq 3', 15_000);
      expect(ack!.missing ?? []).toEqual([]);
    } finally {
      await edge.endAsync();
    }
    const l2 = (await get('/api/v1/stock?site=depot-1&sku=CEMENT-50KG')).json.items.find((r: Row) => r.batch === 'L2' && r.project === '');
    expect(l2.onHand).toBe(7); // 3 - 1 before the upgrade, + 5 after
  });

  it('the old alerts reader still connects and may subscribe to its site\'s alerts', async () => {
    const broker = `mqtt://127.0.0.1:${cloud.ready.mqttPort as number}`;
    const reader = await mqtt.connectAsync(broker, { username: creds.alertsUser.username, password: creds.alertsUser.password, reconnectPeriod: 0 });
    try {
      const granted = await reader.subscribeAsync('stockgate/v1/depot-1/alerts/#', { qos: 1 });
      expect(granted[0]!.qos).toBe(1);
    } finally {
      await reader.endAsync();
    }
  });

  it('records every module\'s versions once, with the 0.1 dates; a restart imports nothing and changes nothing', async () => {
    const before = (await get('/api/v1/stock?limit=1000')).json.items;
    await cloud.kill();
    const db = new BetterSqlite3(join(dir, 'stockgate.db'), { readonly: true });
    try {
      const rows = db.prepare('SELECT module, version, applied_at FROM db_migrations ORDER BY module, version').all() as Row[];
      expect(rows.map((r) => `${r.module}:${r.version}`)).toEqual(expect.arrayContaining(['alerts:1', 'auth:1', 'ledger:1', 'ledger:2']));
      // auth v1 ran when `admin init` made auth.db, before the cloud's first start.
      expect(rows.find((r) => r.module === 'auth' && r.version === 1)!.applied_at).toMatch(/^2026-12-06T02:55:/);
    } finally {
      db.close();
    }
    await start();
    expect(cloud.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('upgrade: '))).toEqual([]);
    expect((await get('/api/v1/stock?limit=1000')).json.items).toEqual(before);
    expect((await get('/api/v1/tokens')).json.items).toHaveLength(3);
  });
});
