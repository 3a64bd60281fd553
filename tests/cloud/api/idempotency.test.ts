import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson, contentHash } from '../../../cloud/api/idempotency.js';
import { startApiCloud, type ApiCloud, type Backend } from '../../helpers/api-cloud.js';
import { uniqueId } from '../../helpers/procs.js';

/** REST idempotency with content (issue 8 #7, finding 9). */
describe('canonical movement JSON and its hash', () => {
  it('sorts keys, drops undefined, writes numbers in shortest form, no whitespace', () => {
    expect(canonicalJson({ b: 1.5, a: 'x', c: undefined, d: { z: [1, 'é', null], y: true } })).toBe('{"a":"x","b":1.5,"d":{"y":true,"z":[1,"é",null]}}');
    expect(canonicalJson(JSON.parse('{"qty": 1.50, "sku": "A"}'))).toBe(canonicalJson({ sku: 'A', qty: 1.5 }));
    expect(canonicalJson({ s: 'a"\u0001' })).toBe('{"s":"a\\"\\u0001"}');
    expect(() => canonicalJson({ q: Infinity })).toThrow(/non-finite/);
  });

  it('hashes with SHA-256 over the UTF-8 bytes, prefixed sha256:', () => {
    const c = canonicalJson({ id: 'X', qty: 2 });
    expect(contentHash(c)).toBe(`sha256:${createHash('sha256').update(Buffer.from('{"id":"X","qty":2}', 'utf8')).digest('hex')}`);
    expect(contentHash(canonicalJson({ qty: 2, id: 'X' }))).toBe(contentHash(c));
    expect(contentHash(canonicalJson({ id: 'X', qty: 3 }))).not.toBe(contentHash(c));
  });
});

for (const backend of ['sqlite', 'postgres'] as Backend[]) {
  describe(`POST /api/v1/movements with a reused id (${backend})`, () => {
    let api: ApiCloud;
    const site = uniqueId('idem');
    let n = 0;
    const mv = (over: Record<string, unknown> = {}) => ({
      id: `IDEM${process.pid}X${Date.now().toString(36).toUpperCase()}N${++n}`,
      ts: '2026-12-06T03:00:00.000Z',
      site,
      location: 'WH-1',
      kind: 'receive',
      sku: 'CEMENT',
      qty: 10.25,
      uom: 'kg',
      ...over,
    });
    const post = (movements: unknown[]) => api.call('POST', '/api/v1/movements', { body: { movements } });
    const onHand = async () => (await api.call('GET', `/api/v1/stock/totals?site=${site}`)).body.items.find((r: { sku: string }) => r.sku === 'CEMENT')?.onHand;

    beforeAll(async () => {
      api = await startApiCloud(backend);
    });
    afterAll(() => api?.stop());

    it('the same content again (keys reordered, 10.250 for 10.25, defaults spelt out) answers duplicate', async () => {
      const m = mv();
      expect((await post([m])).status).toBe(201);
      // Same content written differently: other key order, a trailing zero, the default device given.
      const again = `{"movements":[{"qty":10.250,"uom":"kg","sku":"CEMENT","kind":"receive","location":"WH-1","site":"${site}","ts":"${m.ts}","id":"${m.id}","device":{"type":"manual","id":"api"},"raw":""}]}`;
      const r = await api.call('POST', '/api/v1/movements', { rawBody: again });
      expect(r).toMatchObject({ status: 200, body: { applied: 0, duplicates: 1, items: [{ id: m.id, status: 'duplicate' }] } });
      expect(await onHand()).toBe(10.25);
    });

    it('finding 9: other content under an existing id is 409 SG_ERR_IDEMPOTENCY_CONFLICT with the original hash, and nothing is applied', async () => {
      const m = mv();
      expect((await post([m])).status).toBe(201);
      const before = await onHand();
      const other = { ...m, qty: 99 };
      const fresh = mv();
      const r = await post([fresh, other]);
      const originalHash = contentHash(canonicalJson({ ...m, device: { id: 'api', type: 'manual' }, raw: '' }));
      expect(r.status).toBe(409);
      expect(Object.keys(r.body).slice(-4).sort()).toEqual(['code', 'error', 'message', 'statusCode']);
      expect(r.body).toMatchObject({
        statusCode: 409,
        code: 'SG_ERR_IDEMPOTENCY_CONFLICT',
        error: 'Conflict',
        message: `movements.1.id: ${m.id} was already posted with other content (original ${originalHash}, this ${contentHash(canonicalJson({ ...other, device: { id: 'api', type: 'manual' }, raw: '' }))})`,
        conflicts: [{ index: 1, id: m.id, originalHash }],
      });
      // The whole request was refused: neither the new movement nor the changed one applied.
      expect(await onHand()).toBe(before);
      expect((await api.call('GET', `/api/v1/movements/${fresh.id}`)).status).toBe(404);
      // The ledger still has the original content, and the same content still answers duplicate.
      expect((await api.call('GET', `/api/v1/movements/${m.id}`)).body).toMatchObject({ qty: 10.25 });
      expect((await post([m])).body).toMatchObject({ duplicates: 1, items: [{ status: 'duplicate' }] });
    });

    it('a changed optional field (batch), device or raw is other content too', async () => {
      const m = mv({ batch: 'B1', raw: 'CEMENT*10.25' });
      expect((await post([m])).status).toBe(201);
      for (const change of [{ batch: 'B2' }, { batch: undefined }, { raw: 'other' }, { device: { id: 'erp', type: 'manual' } }, { ts: '2026-12-06T03:00:01.000Z' }]) {
        const r = await post([{ ...m, ...change }]);
        expect(r.status, JSON.stringify(change)).toBe(409);
        expect(r.body.code).toBe('SG_ERR_IDEMPOTENCY_CONFLICT');
      }
    });

    it('the same id twice in one body with different content: the second is a conflict', async () => {
      const m = mv();
      const r = await post([m, { ...m, qty: 1 }]);
      expect(r.status).toBe(409);
      expect(r.body).toMatchObject({ code: 'SG_ERR_IDEMPOTENCY_CONFLICT', conflicts: [{ index: 1, id: m.id }], items: [{ id: m.id, status: 'applied' }, { id: m.id, status: 'duplicate' }] });
      // The first was applied once (it happened), the second never.
      expect((await api.call('GET', `/api/v1/movements/${m.id}`)).body.qty).toBe(10.25);
    });

    it('concurrent posts of one id with different content: one applies, every other answer is a 409', async () => {
      const m = mv();
      const rs = await Promise.all([1, 2, 3, 4, 5].map((q) => post([{ ...m, qty: q }])));
      const statuses = rs.map((r) => r.status).sort();
      expect(statuses).toEqual([201, 409, 409, 409, 409]);
      const winner = rs.find((r) => r.status === 201)!;
      expect(winner.body.applied).toBe(1);
    });

    it('keeps the canonical posted movement as the ledger raw of a REST entry', async () => {
      const m = mv({ raw: 'scanned text' });
      await post([m]);
      const row = (await api.call('GET', `/api/v1/movements/${m.id}`)).body;
      expect(JSON.parse(row.raw)).toEqual({ ...m, device: { id: 'api', type: 'manual' } });
      expect(row.raw).toBe(canonicalJson({ ...m, device: { id: 'api', type: 'manual' } }));
    });
  });
}
