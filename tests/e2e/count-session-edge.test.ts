import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPtyPair, type PtyPair } from '../../devices/pty-pair.js';
import { SerialTransport } from '../../devices/serial.js';
import { PG_URL } from '../helpers/api-cloud.js';
import { startCloudProc, startEdgeProc, tempDir, uniqueId, waitFor, type CloudProc, type Proc } from '../helpers/procs.js';

/**
 * Issue 11 §4 "Count scans at the edge (MODE:COUNT) attach to the open session of that site or
 * location", end to end: a count session of BIN-7 opened over REST (snapshot 100), an issue of 5
 * while counting, then at the edge (location BIN-7, a scanner on a socat pty) `MODE:COUNT`, 93
 * pieces counted (`QTY:90` + a scan, `QTY:3` + a scan), `COUNT:END`. The count scan is attached
 * to the BIN-7 session (not to the open session of BIN-9), and submit gives variance −2 (93 −
 * (100 − 5)), not −7, already booked by the ledger's count row. A count of the whole site takes
 * a scan of any location. On SQLite and on PostgreSQL.
 */
interface CountLine {
  location: string;
  sku: string;
  snapshot: number;
  moved: number;
  counted: number;
  expected: number;
  variance: number;
  booked: number;
}
interface CountView {
  id: string;
  status: string;
  entries: number;
  lines: CountLine[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`e2e: edge MODE:COUNT scans attach to the open count session (${backend})`, () => {
    const dir = tempDir('sg-count-session-');
    const site = uniqueId('cnt');
    let cloud: CloudProc;
    let edge: Proc;
    let pty: PtyPair;
    let scanner: SerialTransport;
    let schema: string | undefined;

    const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => {
      const res = await fetch(`${cloud.url}${path}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    };
    const ok = async (method: string, path: string, body?: unknown): Promise<any> => {
      const r = await call(method, path, body);
      if (r.status >= 300) throw new Error(`${method} ${path} -> ${r.status} ${JSON.stringify(r.body).slice(0, 400)}`);
      return r.body;
    };
    const move = (kind: 'receive' | 'issue', qty: number) =>
      ok('POST', '/api/v1/movements', { movements: [{ id: uniqueId('M').replace(/[^A-Za-z0-9]/g, '').slice(0, 26), ts: new Date().toISOString(), site, location: 'BIN-7', kind, sku: 'BOLT-M16', qty, uom: 'ea' }] });
    const scan = async (...lines: string[]) => {
      // One line at a time, past the agent's feedback coalescing.
      for (const l of lines) {
        await scanner.write(Buffer.from(`${l}\r\n`, 'latin1'));
        await sleep(300);
      }
    };
    const stock = async () => ((await ok('GET', `/api/v1/stock?site=${site}`)).items as Array<{ sku: string; location: string; onHand: number }>).filter((r) => r.sku === 'BOLT-M16' && r.location === 'BIN-7').reduce((a, r) => a + r.onHand, 0);

    beforeAll(async () => {
      let store: string | undefined;
      if (backend === 'postgres') {
        schema = `sg_cnt_${process.pid}_${Date.now().toString(36)}`;
        const c = new pg.Client({ connectionString: PG_URL });
        await c.connect();
        await c.query(`CREATE SCHEMA "${schema}"`);
        await c.end();
        store = `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}options=-csearch_path%3D${schema}`;
      }
      writeFileSync(join(dir, 'items.json'), JSON.stringify([{ sku: 'BOLT-M16', uom: 'ea' }]));
      cloud = await startCloudProc({ dataDir: join(dir, 'cloud'), ...(store ? { store } : {}) });
      pty = await openPtyPair(join(dir, 'ttyScanner'));
      scanner = new SerialTransport({ path: pty.peerPath });
      await scanner.open();
      edge = await startEdgeProc({
        dataDir: join(dir, 'edge'),
        broker: `mqtt://127.0.0.1:${cloud.mqttPort}`,
        site,
        edgeId: 'counter-1',
        location: 'BIN-7',
        devices: [`gun=scanner@serial://${pty.devicePath}`],
        extra: ['--items', join(dir, 'items.json')],
      });
      await waitFor(() => edge.logs.some((l) => l.msg === 'device state' && l.state === 'connected'), 'scanner connected');
    });

    afterAll(async () => {
      await scanner?.close();
      await edge?.kill();
      await pty?.close();
      await cloud?.kill();
      if (schema) {
        const c = new pg.Client({ connectionString: PG_URL });
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await c.end();
      }
    });

    it('snapshot 100, issue 5, 93 counted at the edge: the scan attaches to the BIN-7 session and the variance is −2', async () => {
      await move('receive', 100);
      await waitFor(async () => (await stock()) === 100, 'the receipt applied');
      const count = (await ok('POST', '/api/v1/counts', { site, location: 'BIN-7' })) as CountView;
      const other = (await ok('POST', '/api/v1/counts', { site, location: 'BIN-9' })) as CountView;
      expect(count).toMatchObject({ status: 'open', entries: 0 });
      // Stock moves while counting.
      await move('issue', 5);
      await waitFor(async () => (await stock()) === 95, 'the issue applied');

      await scan('MODE:COUNT', 'QTY:90', ']C0BOLT-M16', 'QTY:3', ']C0BOLT-M16');
      await waitFor(() => edge.logs.filter((l) => l.msg === 'count tally').length === 2, 'two scans tallied');
      expect(edge.logs.filter((l) => l.msg === 'count tally').map((l) => l.total)).toEqual([90, 93]);
      await scan('COUNT:END');
      // The ledger applies the count (stock is what was counted) and the follower attaches it.
      await waitFor(async () => (await stock()) === 93, 'the count applied');
      const attached = await waitFor(async () => {
        const v = (await ok('GET', `/api/v1/counts/${count.id}`)) as CountView;
        return v.entries === 1 ? v : undefined;
      }, 'the count scan attached to the session', 30_000);
      expect(attached).toMatchObject({ status: 'open', entries: 1 });
      expect(((await ok('GET', `/api/v1/counts/${other.id}`)) as CountView).entries).toBe(0);

      const submitted = (await ok('POST', `/api/v1/counts/${count.id}/submit`)) as CountView;
      expect(submitted.status).toBe('submitted');
      expect(submitted.lines).toEqual([expect.objectContaining({ location: 'BIN-7', sku: 'BOLT-M16', snapshot: 100, moved: -5, counted: 93, expected: 95, variance: -2, booked: -2 })]);
      // The ledger's count row booked the −2 already (issue 9, C4): nothing is left to adjust.
      const posted = (await ok('POST', `/api/v1/counts/${count.id}/post`)) as CountView;
      expect(posted.status).toBe('posted');
      expect(await stock()).toBe(93);
      // The other session saw nothing to count.
      expect((await call('POST', `/api/v1/counts/${other.id}/submit`)).status).toBe(400);
    });

    it('a count of the whole site (no location) takes the scan of any of its locations', async () => {
      const count = (await ok('POST', '/api/v1/counts', { site })) as CountView;
      await scan('MODE:COUNT', 'QTY:91', ']C0BOLT-M16', 'COUNT:END');
      await waitFor(async () => (await stock()) === 91, 'the second count applied');
      await waitFor(async () => ((await ok('GET', `/api/v1/counts/${count.id}`)) as CountView).entries === 1, 'the scan attached to the site count', 30_000);
      const submitted = (await ok('POST', `/api/v1/counts/${count.id}/submit`)) as CountView;
      expect(submitted.lines).toEqual([expect.objectContaining({ location: 'BIN-7', snapshot: 93, moved: 0, counted: 91, variance: -2, booked: -2 })]);
    });
  });
}
