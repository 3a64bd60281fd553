import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BoardFrame, BoardResync, BoardSnapshot } from '../../../protocols/http/board.js';
import { API_EDGE } from '../../../cloud/store/store.js';
import { type ApiCloud, startApiCloud } from '../../helpers/api-cloud.js';
import { movement } from '../../helpers/movements.js';
import { uniqueId } from '../../helpers/procs.js';
import { openSse, type SseReader } from '../../helpers/sse.js';

/**
 * The board stream (issue 12 #3): one SSE stream per page, a snapshot then coalesced frames typed
 * by protocols/http/board.ts, `id:` = ledger position and `Last-Event-ID` resume. On both stores.
 */
describe.each(['sqlite', 'postgres'] as const)('board stream on %s', (backend) => {
  let api: ApiCloud;
  const site = uniqueId('bs');
  const open: SseReader[] = [];
  const sse = async (path: string, headers: Record<string, string> = {}) => {
    const r = await openSse(`${api.url}${path}`, { authorization: `Bearer ${api.admin}`, ...headers });
    open.push(r);
    return r;
  };
  const submit = (n: number, o: { sku?: string; kind?: 'receive' | 'issue'; uom?: string; operator?: string } = {}) =>
    api.cloud.ingester.submit(
      Array.from({ length: n }, () =>
        movement({ site, edge: API_EDGE, seq: 0, sku: o.sku ?? 'CEM', qty: 1, kind: o.kind ?? 'receive', uom: o.uom ?? 'ea', operator: o.operator ?? 'li.wei', raw: 'x' }),
      ),
    );

  beforeAll(async () => {
    api = await startApiCloud(backend);
  });
  afterAll(async () => {
    for (const r of open) r.close();
    await api?.stop();
  });

  it('starts with a typed snapshot, then frames whose id is the ledger position', async () => {
    await submit(2);
    const s = await sse(`/board/events?site=${site}`);
    expect(s.status).toBe(200);
    const first = await s.next();
    expect(first.event).toBe('snapshot');
    const snap = BoardSnapshot.parse(JSON.parse(first.data));
    expect(Number(first.id)).toBe(snap.pos);
    expect(snap.stock.find((r) => r.sku === 'CEM')?.onHand).toBe(2);
    expect(snap.feed[0]?.operator).toBe('li.wei');
    expect(snap.caller.canAck).toBe(true);

    await submit(3, { sku: 'REBAR', uom: 'm', operator: 'zhang.san' });
    const e = await s.next((x) => x.event === 'frame' && BoardFrame.parse(JSON.parse(x.data)).stock.some((r) => r.sku === 'REBAR'));
    const frame = BoardFrame.parse(JSON.parse(e.data));
    expect(Number(e.id)).toBe(frame.pos);
    expect(frame.pos).toBeGreaterThan(snap.pos);
    const rebar = frame.stock.find((r) => r.sku === 'REBAR')!;
    // Latest value per key, in its own unit.
    expect([rebar.onHand, rebar.uom]).toEqual([3, 'm']);
    expect(frame.feed.map((m) => m.pos)).toEqual([...frame.feed.map((m) => m.pos)].sort((a, b) => a - b));
    expect(frame.feed.filter((m) => m.sku === 'REBAR' && m.operator === 'zhang.san')).toHaveLength(3);
    // The feed positions are the ledger's.
    const ledger = await api.call('GET', `/api/v1/movements?site=${site}&limit=1`);
    expect(frame.pos).toBe(ledger.body.items[0].pos);
  });

  it('coalesces a burst into few frames holding the final balances', async () => {
    const s = await sse(`/board/events?site=${site}`);
    await s.next((e) => e.event === 'snapshot');
    const from = s.events.length;
    const t0 = Date.now();
    for (let i = 0; i < 20; i++) await submit(10, { sku: 'BURST' });
    const rest = await api.call('GET', `/api/v1/stock?site=${site}&sku=BURST`);
    const want = rest.body.items[0].onHand;
    expect(want).toBe(200);
    const last = await s.next((e) => e.event === 'frame' && BoardFrame.parse(JSON.parse(e.data)).stock.some((r) => r.sku === 'BURST' && r.onHand === want), 10_000, from);
    const frames = s.events.slice(from).filter((e) => e.event === 'frame' && e.at <= last.at);
    const spanMs = last.at - t0;
    // At most one frame per 250 ms (plus the one sent at once after a quiet spell).
    expect(frames.length).toBeLessThanOrEqual(Math.floor(spanMs / 250) + 2);
    // Every movement of the burst reached the feed once (200 rows, MAX_FEED_PER_FRAME = 200).
    const fed = frames.flatMap((e) => BoardFrame.parse(JSON.parse(e.data)).feed).filter((m) => m.sku === 'BURST');
    const dropped = frames.reduce((n, e) => n + (BoardFrame.parse(JSON.parse(e.data)).feedDropped ?? 0), 0);
    expect(fed.length + dropped).toBe(200);
    expect(new Set(fed.map((m) => m.pos)).size).toBe(fed.length);
  });

  it('resumes from Last-Event-ID with what the page missed', async () => {
    const s = await sse(`/board/events?site=${site}`);
    const snap = await s.next((e) => e.event === 'snapshot');
    s.close();
    await submit(4, { sku: 'MISSED' });
    const r = await sse(`/board/events?site=${site}`, { 'last-event-id': snap.id! });
    const first = await r.next();
    expect(first.event).toBe('frame');
    const f = BoardFrame.parse(JSON.parse(first.data));
    expect(f.feed.filter((m) => m.sku === 'MISSED')).toHaveLength(4);
    expect(f.feed.every((m) => m.pos > Number(snap.id))).toBe(true);
    expect(f.stock.find((x) => x.sku === 'MISSED')?.onHand).toBe(4);
    // Too far ahead (another database): a snapshot.
    const ahead = await sse(`/board/events?site=${site}&lastEventId=${f.pos + 1_000_000}`);
    expect((await ahead.next()).event).toBe('snapshot');
  });

  it('shows a site-limited token only its site, and refuses another', async () => {
    const other = uniqueId('bso');
    await api.cloud.ingester.submit([movement({ site: other, edge: API_EDGE, seq: 0, sku: 'OTHER', raw: 'x' })]);
    const tok = await api.call('POST', '/api/v1/tokens', { body: { name: 'wall', roles: ['operator'], sites: [site] } });
    expect(tok.status).toBe(201);
    const s = await openSse(`${api.url}/board/events?token=${tok.body.token}`);
    open.push(s);
    const snap = BoardSnapshot.parse(JSON.parse((await s.next()).data));
    expect(new Set(snap.stock.map((r) => r.site))).toEqual(new Set([site]));
    expect(snap.caller.canAck).toBe(false);
    await api.cloud.ingester.submit([movement({ site: other, edge: API_EDGE, seq: 0, sku: 'OTHER2', raw: 'x' })]);
    await submit(1, { sku: 'MINE' });
    const f = await s.next((e) => e.event === 'frame' && e.data.includes('MINE'));
    expect(f.data).not.toContain(other);
    const denied = await openSse(`${api.url}/board/events?site=${other}&token=${tok.body.token}`);
    expect(denied.status).toBe(403);
  });

  it('types resync as the contract says', () => {
    expect(BoardResync.parse({ reason: 'overflow' }).reason).toBe('overflow');
  });
});
