import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runStockgate, spawnStockgate, tempDir, uniqueId, type Proc } from '../helpers/procs.js';

/** The PostgreSQL of the test machine (trust auth), as the store tests; override with STOCKGATE_TEST_PG. */
const PG = process.env.STOCKGATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const BROKER = 'mqtt://127.0.0.1:1883';
const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'datadir-0.1.0');

/**
 * Shared credentials (issue 9): two `stockgate cloud` ingesters, authentication ON, in one
 * shared-subscription group on the Mosquitto at 127.0.0.1:1883 and one PostgreSQL schema. Before
 * the one database each node had its own auth.db, and a token issued through one was refused by
 * the other. Now: `admin init --store` makes a token both accept; a token issued, or revoked,
 * through one applies on the other at once; edge credentials issued on one are listed on the
 * other; and the auth.db a 0.1 node had in its data dir is copied into the schema, so its old
 * admin token works on both.
 */
describe('e2e shared credentials: 2 ingesters, one PostgreSQL schema, auth on', () => {
  const site = uniqueId('creds');
  const schema = `sg_creds_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const url = `${PG}${PG.includes('?') ? '&' : '?'}options=-csearch_path%3D${schema}`;
  const admin = new pg.Pool({ connectionString: PG, max: 2 });
  const dir = tempDir('sg-creds-');
  const clouds: Proc[] = [];
  const base: string[] = [];
  let initToken = '';
  const old = JSON.parse(readFileSync(join(FIXTURE, 'credentials.json'), 'utf8')) as { adminToken: string };

  const call = async (node: number, method: string, path: string, token: string, body?: unknown) => {
    const res = await fetch(`${base[node]}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  };

  beforeAll(async () => {
    await admin.query(`CREATE SCHEMA "${schema}"`);
    // The first admin token, into the schema (no cloud running yet): the same --store as the clouds.
    const init = runStockgate(['admin', 'init', '--data-dir', join(dir, 'admin'), '--store', url]);
    expect(init.status, init.stderr).toBe(0);
    initToken = (JSON.parse(init.stdout) as { token: string }).token;
    // Node 0's data dir comes from 0.1: its auth.db is copied into the schema on start.
    mkdirSync(join(dir, 'cloud-0'), { recursive: true });
    copyFileSync(join(FIXTURE, 'data', 'auth.db'), join(dir, 'cloud-0', 'auth.db'));
    clouds.push(
      ...(await Promise.all(
        [0, 1].map((n) =>
          spawnStockgate(['cloud', '--data-dir', join(dir, `cloud-${n}`), '--mqtt-port', '0', '--http-port', '0', '--broker', BROKER, '--site', site,
            '--store', url, '--shared-group', `g-${site}`, '--client-id', `${site}-ingester-${n}`]),
        ),
      )),
    );
    for (const c of clouds) base.push(`http://127.0.0.1:${c.ready.httpPort as number}`);
  });

  afterAll(async () => {
    for (const c of clouds) await c.kill();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await admin.end();
  });

  it('admin init refuses a --store that is not PostgreSQL, naming the flag', () => {
    const r = runStockgate(['admin', 'init', '--data-dir', join(dir, 'bad'), '--store', 'mysql://db/x']);
    expect(r.status).toBe(2);
    expect(JSON.parse(r.stderr)).toMatchObject({ error: { code: 'SG_ERR_CONFIG', message: expect.stringMatching(/^store: expected postgres:\/\//) } });
  });

  it('keeps no credential file in the data dirs: the tables are in the schema', async () => {
    expect(existsSync(join(dir, 'cloud-1', 'auth.db'))).toBe(false);
    expect(existsSync(join(dir, 'cloud-0', 'auth.db'))).toBe(false);
    expect(existsSync(join(dir, 'cloud-0', 'auth.db.imported-0.1'))).toBe(true);
    const { rows } = await admin.query(`SELECT module, version FROM "${schema}".db_migrations WHERE module = 'auth' ORDER BY version`);
    expect(rows.length).toBeGreaterThanOrEqual(1);
    expect((await admin.query(`SELECT count(*)::int AS n FROM "${schema}".tokens`)).rows[0].n).toBe(3); // init + the two of 0.1
  });

  it('the admin init token, and the old auth.db admin token, work on both ingesters', async () => {
    for (const n of [0, 1]) {
      expect((await call(n, 'GET', '/api/v1/tokens', initToken)).status).toBe(200);
      expect((await call(n, 'GET', '/api/v1/tokens', old.adminToken)).status).toBe(200);
    }
  });

  it('a token issued through one ingester works on the other at once; revoked through the other, it stops on both', async () => {
    const issued = await call(0, 'POST', '/api/v1/tokens', initToken, { name: 'board', roles: ['site-manager'], sites: [site] });
    expect(issued.status).toBe(201);
    const token = issued.json.token as string;
    expect((await call(1, 'GET', `/api/v1/stock?site=${site}`, token)).status).toBe(200);
    expect((await call(1, 'GET', '/api/v1/stock?site=elsewhere', token)).status).toBe(403);
    // A movement entered on one with that token is read on the other (one ledger too).
    const mv = { id: uniqueId('MV'), site, ts: new Date().toISOString(), location: 'A-1', kind: 'receive', sku: 'S-1', qty: 4, uom: 'ea' };
    expect((await call(1, 'POST', '/api/v1/movements', token, { movements: [mv] })).status).toBe(201);
    expect((await call(0, 'GET', `/api/v1/movements/${mv.id}`, token)).json).toMatchObject({ id: mv.id, site });

    expect((await call(1, 'DELETE', `/api/v1/tokens/${issued.json.id as string}`, initToken)).status).toBeLessThan(300);
    expect((await call(0, 'GET', `/api/v1/stock?site=${site}`, token)).status).toBe(401);
    expect((await call(1, 'GET', `/api/v1/stock?site=${site}`, token)).status).toBe(401);
  });

  it('edge credentials issued on one ingester are known to the other (one conflict for both)', async () => {
    const made = await call(1, 'POST', '/api/v1/edges', initToken, { site, edgeId: 'dock-1' });
    expect(made.status).toBe(201);
    expect((await call(0, 'POST', '/api/v1/edges', initToken, { site, edgeId: 'dock-1' })).status).toBe(409);
    const listed = await call(0, 'GET', '/api/v1/mqtt-users', initToken);
    expect(listed.json.items.map((u: { username: string }) => u.username)).toContain(`${site}/dock-1`);
  });
});
