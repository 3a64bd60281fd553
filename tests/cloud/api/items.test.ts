import iconv from 'iconv-lite';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../../../protocols/mqtt/index.js';
import { type ApiCloud, type Backend, startApiCloud } from '../../helpers/api-cloud.js';
import { uniqueId, waitFor } from '../../helpers/procs.js';

/**
 * Issue 9 over real HTTP on both backends: the item master (`/api/v1/items`, CSV export and
 * import in UTF-8, UTF-8 with BOM and GBK), units of measure on REST entries, exact quantities at
 * the doors, `postedBy`, the hash chain (`/api/v1/ledger/verify`, `/healthz`).
 */
for (const backend of ['sqlite', 'postgres'] as Backend[]) {
  describe(`item master and ledger truth over HTTP (${backend})`, () => {
    let api: ApiCloud;
    const site = uniqueId('it');
    beforeAll(async () => {
      api = await startApiCloud(backend);
    });
    afterAll(() => api?.stop());

    let n = 0;
    const m = (over: Record<string, unknown>) => ({
      id: `IT${Date.now().toString(36).toUpperCase()}N${n++}`.padEnd(14, '0'),
      ts: new Date().toISOString(),
      site,
      location: 'WH-1',
      kind: 'receive',
      sku: 'CEM-50',
      qty: 1,
      uom: 'bag',
      ...over,
    });
    const csv = async (bytes: Buffer, q = '') => {
      const r = await fetch(`${api.url}/api/v1/imports/items${q}`, { method: 'POST', headers: { authorization: `Bearer ${api.admin}`, 'content-type': 'text/csv' }, body: bytes });
      return { status: r.status, body: (await r.json()) as any };
    };

    it('PUT /api/v1/items/:sku creates and replaces; GET by sku and by search; fields named on errors', async () => {
      const put = await api.call('PUT', '/api/v1/items/CEM-50', {
        body: { name: 'Cement 50 kg', uom: 'bag', gtins: ['6901234567892'], conversions: [{ uom: 'pallet', factor: 40 }], unitWeightKg: 50, standardCost: '32.5' },
      });
      expect(put.status).toBe(200);
      expect(put.body).toMatchObject({ sku: 'CEM-50', uom: 'bag', gtins: ['06901234567892'], conversions: [{ uom: 'pallet', factor: 40 }], unitWeightKg: 50, tracking: 'none', standardCost: '32.50' });
      expect((await api.call('GET', '/api/v1/items/CEM-50')).body).toMatchObject({ name: 'Cement 50 kg' });
      expect((await api.call('GET', '/api/v1/items?search=cement')).body.items.map((i: { sku: string }) => i.sku)).toContain('CEM-50');
      expect((await api.call('GET', '/api/v1/items/NOPE')).status).toBe(404);
      const bad = await api.call('PUT', '/api/v1/items/X-1', { body: { name: 'x', uom: 'ea', conversions: [{ uom: 'box', factor: -1 }] } });
      expect(bad.status).toBe(400);
      expect(bad.body).toMatchObject({ code: 'SG_ERR_BAD_BODY', message: expect.stringMatching(/^conversions\.0\.factor: /) });
      const cost = await api.call('PUT', '/api/v1/items/X-1', { body: { name: 'x', uom: 'ea', standardCost: 12.5 } });
      expect(cost.body.message).toMatch(/^standardCost: /);
      // Money is CNY with at most 2 decimals, never negative (issue 10 §0): "33.5" reads back "33.50".
      for (const bad of ['33.505', '-1', '1e3', '3,300']) {
        const r = await api.call('PUT', '/api/v1/items/X-1', { body: { name: 'x', uom: 'ea', standardCost: bad } });
        expect(r, bad).toMatchObject({ status: 400, body: { code: 'SG_ERR_BAD_BODY', message: expect.stringMatching(/^standardCost: /) } });
      }
      expect((await api.call('GET', '/api/v1/items/X-1')).status).toBe(404);
      for (const [given, shown] of [['33.5', '33.50'], ['33', '33.00'], ['0.05', '0.05'], ['33.50', '33.50']]) {
        expect((await api.call('PUT', '/api/v1/items/X-3', { body: { name: 'x', uom: 'ea', standardCost: given } })).body.standardCost).toBe(shown);
        expect((await api.call('GET', '/api/v1/items/X-3')).body.standardCost).toBe(shown);
      }
      const gtin = await api.call('PUT', '/api/v1/items/X-2', { body: { name: 'x', uom: 'ea', gtins: ['6901234567892'] } });
      expect(gtin).toMatchObject({ status: 409, body: { code: 'SG_ERR_CONFLICT', message: 'gtins: 06901234567892 already belongs to CEM-50' } });
    });

    it('C1 over REST: bags stay bags, kg converts through the unit weight, an unknown unit is UOM_MISMATCH; totals per uom', async () => {
      const kgm = m({ qty: 100, uom: 'kg' });
      const lbs = m({ qty: 3, uom: 'lb' });
      const r = await api.call('POST', '/api/v1/movements', { body: { movements: [m({ qty: 10 }), kgm, m({ qty: 1, uom: 'pallet' }), lbs] } });
      expect(r.body.items.map((i: { status: string }) => i.status)).toEqual(['applied', 'applied', 'applied', 'exception']);
      const stock = (await api.call('GET', `/api/v1/stock?site=${site}&sku=CEM-50`)).body.items;
      expect(stock.map((x: { onHand: number; uom: string }) => [x.onHand, x.uom])).toEqual([[52, 'bag']]);
      expect((await api.call('GET', `/api/v1/movements/${kgm.id}`)).body).toMatchObject({ qty: 100, uom: 'kg', baseQty: 2, baseUom: 'bag' });
      const ex = (await api.call('GET', `/api/v1/exceptions?site=${site}`)).body.items;
      expect(ex.filter((e: { type: string }) => e.type === 'UOM_MISMATCH').map((e: { movementId: string }) => e.movementId)).toEqual([lbs.id]);
      expect((await api.call('GET', `/api/v1/stock/totals?site=${site}`)).body.items).toEqual([
        { site, sku: 'CEM-50', onHand: 52, uom: 'bag', locations: 1, updatedAt: expect.any(String) },
      ]);
    });

    it('refuses a quantity with more than 3 decimals at the REST door, naming the field', async () => {
      const r = await api.call('POST', '/api/v1/movements', { body: { movements: [m({ qty: 1 }), m({ qty: 0.0001 })] } });
      expect(r.status).toBe(400);
      expect(r.body.message).toMatch(/^movements\.1\.qty: .*more than 3 decimals/);
    });

    it('keeps who posted a REST entry, and the posted movement as raw', async () => {
      const e = m({ qty: 2 });
      await api.call('POST', '/api/v1/movements', { body: { movements: [e] } });
      const row = (await api.call('GET', `/api/v1/movements/${e.id}`)).body;
      expect(row.postedBy).toEqual({ tokenId: expect.any(String), user: 'admin (stockgate admin init)' });
      expect(api.admin).toContain(`_${row.postedBy.tokenId}_`);
      expect(JSON.parse(row.raw)).toMatchObject({ id: e.id, qty: 2, uom: 'bag' });
    });

    it('verifies the chain and publishes its head in /healthz', async () => {
      const v = await api.call('GET', `/api/v1/ledger/verify?site=${site}`);
      expect(v.body).toEqual({ ok: true, checked: expect.any(Number), brokenAt: null });
      expect(v.body.checked).toBeGreaterThanOrEqual(5);
      const h = (await api.call('GET', '/healthz')).body;
      // Anonymous callers see no site's head (site names are not public).
      expect((await api.call('GET', '/healthz', { token: null })).body.chain).toEqual({});
      const last = (await api.call('GET', `/api/v1/movements?site=${site}&limit=1`)).body.items[0];
      expect(h.chain[site]).toEqual({ pos: last.pos, hash: last.hash });
      expect((await api.call('GET', '/api/v1/ledger/verify')).status).toBe(400);
    });

    it('exports the master as CSV and imports it back (UTF-8 with BOM)', async () => {
      const r = await fetch(`${api.url}/api/v1/exports/items.csv`, { headers: { authorization: `Bearer ${api.admin}` } });
      expect(r.headers.get('content-type')).toMatch(/^text\/csv/);
      const bytes = Buffer.from(await r.arrayBuffer());
      expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
      const text = bytes.toString('utf8');
      expect(text).toContain('sku,name,uom,gtins,conversions,unitWeightKg,tracking,shelfLifeDays,standardCost,epcs');
      expect(text).toContain('CEM-50,Cement 50 kg,bag,06901234567892,pallet=40,50,none,,32.50,');
      expect(await csv(bytes)).toEqual({ status: 200, body: { rows: expect.any(Number), errors: [], written: expect.any(Number) } });
    });

    it('imports GBK as saved by Chinese Excel, and UTF-8 without BOM; dryRun writes nothing', async () => {
      const gbk = iconv.encode('sku,name,uom,conversions,tracking,shelfLifeDays\r\nRB-12,螺纹钢 12mm,m,根=9,batch,\r\nGLUE-1,结构胶,kg,,none,365\r\n', 'gbk');
      expect(() => new TextDecoder('utf-8', { fatal: true }).decode(gbk)).toThrow();
      expect(await csv(gbk, '?dryRun=1')).toEqual({ status: 200, body: { rows: 2, errors: [], written: 0 } });
      expect((await api.call('GET', '/api/v1/items/RB-12')).status).toBe(404);
      expect(await csv(gbk)).toEqual({ status: 200, body: { rows: 2, errors: [], written: 2 } });
      expect((await api.call('GET', '/api/v1/items/RB-12')).body).toMatchObject({ name: '螺纹钢 12mm', uom: 'm', conversions: [{ uom: '根', factor: 9 }], tracking: 'batch' });
      expect((await api.call('GET', '/api/v1/items/GLUE-1')).body).toMatchObject({ name: '结构胶', shelfLifeDays: 365 });
      const utf8 = Buffer.from('sku,name,uom\nSAND,中砂,t\n', 'utf8');
      expect(await csv(utf8)).toMatchObject({ status: 200, body: { written: 1 } });
      expect((await api.call('GET', '/api/v1/items/SAND')).body).toMatchObject({ name: '中砂', uom: 't' });
    });

    it('standardCost through a GBK file: CNY in, stored as fen, exported as 33.50 and imported back unchanged; bad amounts name line and field', async () => {
      const gbk = iconv.encode('sku,name,uom,standardCost\r\nGBK-C1,水泥 42.5,bag,33.5\r\nGBK-C2,石子,t,120\r\n', 'gbk');
      expect(await csv(gbk)).toEqual({ status: 200, body: { rows: 2, errors: [], written: 2 } });
      expect((await api.call('GET', '/api/v1/items/GBK-C1')).body).toMatchObject({ name: '水泥 42.5', standardCost: '33.50' });
      const exported = async () => Buffer.from(await (await fetch(`${api.url}/api/v1/exports/items.csv`, { headers: { authorization: `Bearer ${api.admin}` } })).arrayBuffer()).toString('utf8');
      const first = await exported();
      expect(first).toContain('GBK-C1,水泥 42.5,bag,,,,none,,33.50,');
      expect(first).toContain('GBK-C2,石子,t,,,,none,,120.00,');
      // The export saved as GBK (as Excel on a Chinese Windows would) and imported again: same amounts.
      const again = iconv.encode(first.replace(/^\uFEFF/, '').split(/\r?\n/).filter((l, i) => i === 0 || l.startsWith('GBK-')).join('\r\n'), 'gbk');
      expect(await csv(again)).toEqual({ status: 200, body: { rows: 2, errors: [], written: 2 } });
      expect((await api.call('GET', '/api/v1/items/GBK-C1')).body.standardCost).toBe('33.50');
      expect(await exported()).toContain('GBK-C1,水泥 42.5,bag,,,,none,,33.50,');
      const bad = await csv(Buffer.from('sku,name,uom,standardCost\nC-OK,ok,ea,1.25\nC-BAD1,x,ea,33.505\nC-BAD2,x,ea,-1\n'));
      expect(bad.status).toBe(400);
      expect(bad.body.errors).toEqual([
        { line: 3, field: 'standardCost', message: expect.stringMatching(/^standardCost: .*33\.505/) },
        { line: 4, field: 'standardCost', message: expect.stringMatching(/^standardCost: .*-1/) },
      ]);
      expect((await api.call('GET', '/api/v1/items/C-OK')).status).toBe(404);
    });

    it('a file with any bad row writes nothing and names line and field', async () => {
      const file = Buffer.from('sku,name,uom,conversions,shelfLifeDays,gtins\nOK-1,fine,ea,,,\nBAD-1,,ea,,,\nBAD-2,x,ea,box=abc,,\nBAD-3,x,ea,,1.5,\nBAD-4,x,ea,,,123\nOK-1,again,ea,,,\n', 'utf8');
      const r = await csv(file);
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ code: 'SG_ERR_BAD_BODY', rows: 6, written: 0 });
      expect(r.body.errors.map((e: { line: number; field: string }) => [e.line, e.field])).toEqual([
        [3, 'name'],
        [4, 'conversions'],
        [5, 'shelfLifeDays'],
        [6, 'gtins'],
        [7, 'sku'],
      ]);
      expect((await api.call('GET', '/api/v1/items/OK-1')).status).toBe(404);
      const unknownCol = await csv(Buffer.from('sku,name,uom,colour\nA,a,ea,red\n'));
      expect(unknownCol.body.errors).toEqual([{ line: 1, field: 'colour', message: expect.stringMatching(/^colour: unknown column/) }]);
    });

    if (backend === 'sqlite') {
      it('dead-letters an MQTT movement with more than 3 decimals, naming movements[i].qty', async () => {
        const creds = (await api.call('POST', '/api/v1/edges', { body: { site, edgeId: 'e-dec' } })).body;
        const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${api.cloud.mqttPort!}`, { username: creds.username, password: creds.password, reconnectPeriod: 0 });
        try {
          const mv = (seq: number, qty: number) => ({ v: 1, id: `DEC${seq}${Date.now().toString(36).toUpperCase()}`.padEnd(12, '0'), edge: 'e-dec', seq, ts: new Date().toISOString(), site, location: 'WH-1', kind: 'receive', sku: 'CEM-50', qty, uom: 'bag', device: { id: 'd', type: 'scanner' }, raw: '' });
          await c.publishAsync(topics.movements(site, 'e-dec'), JSON.stringify({ v: 1, site, edge: 'e-dec', sentAt: new Date().toISOString(), movements: [mv(1, 1), mv(2, 1.2345)] }), { qos: 1 });
          await waitFor(async () => (await api.call('GET', `/api/v1/dead-letters?site=${site}`)).body.items.length === 1, 'dead letter');
          const [d] = (await api.call('GET', `/api/v1/dead-letters?site=${site}`)).body.items;
          expect(d).toMatchObject({ reason: 'INVALID_SCHEMA', message: expect.stringMatching(/^movements\[1\]\.qty: more than 3 decimals/) });
        } finally {
          await c.endAsync();
        }
      });
    }
  });
}
