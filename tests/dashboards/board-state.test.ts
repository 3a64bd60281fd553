import { describe, expect, it } from 'vitest';
import type { BoardEdge, BoardFrame, BoardMovement, BoardSnapshot, BoardStockRow } from '../../protocols/http/board.js';
import { defaultLang, DICTS, en, t, zh } from '../../dashboards/board/src/i18n.js';
import { FEED_MAX, initialState, isOffline, projectSummaries, reduce, siteSummaries, stockLines, totalsByUom } from '../../dashboards/board/src/state.js';

const row = (o: Partial<BoardStockRow>): BoardStockRow => ({ site: 'S1', location: 'DOCK', sku: 'CEM', batch: '', project: '', uom: 'ea', onHand: 1, expiry: null, updatedAt: '2026-12-06T06:00:00.000Z', state: 'ok', ...o });
const mv = (pos: number, o: Partial<BoardMovement> = {}): BoardMovement => ({
  pos, id: `M${pos}`, ts: '2026-12-06T06:00:00.000Z', appliedAt: '2026-12-06T06:00:00.100Z', site: 'S1', edge: 'e1', location: 'DOCK', kind: 'receive', sku: 'CEM', qty: 1, uom: 'ea', device: { id: 'd1', type: 'scanner' }, status: 'applied', ...o,
});
const edge = (o: Partial<BoardEdge>): BoardEdge => ({ site: 'S1', edge: 'e1', state: 'online', lastSeenAt: '2026-12-06T06:00:00.000Z', devices: [], ...o });
const snapshot = (o: Partial<BoardSnapshot> = {}): BoardSnapshot => ({
  pos: 10, at: '2026-12-06T06:00:00.000Z', caller: { roles: ['admin'], canAck: true, canResolve: true, seesCost: true }, stock: [], feed: [], edges: [], alerts: [], exceptions: [], items: [], ...o,
});
const frame = (o: Partial<BoardFrame>): BoardFrame => ({ pos: 11, stock: [], feed: [], ...o });

/** The board's pure state module (dashboards/board/src/state.ts): events -> view state. */
describe('board state', () => {
  it('takes a snapshot, then frames as latest values per key; a frame applied twice changes nothing', () => {
    let s = reduce(initialState(), { type: 'snapshot', data: snapshot({ stock: [row({ onHand: 5 })], feed: [mv(10)], items: [{ sku: 'CEM', name: 'Cement', uom: 'ea' }] }) });
    expect(s.live).toBe(true);
    expect(s.pos).toBe(10);
    expect([...s.stock.values()].map((r) => r.onHand)).toEqual([5]);
    const f = frame({ pos: 12, stock: [row({ onHand: 7 }), row({ sku: 'REBAR', uom: 'm', onHand: 3 })], feed: [mv(11), mv(12, { sku: 'REBAR', uom: 'm', qty: 3 })] });
    s = reduce(s, { type: 'frame', data: f });
    const once = s;
    s = reduce(s, { type: 'frame', data: f });
    expect(stockLines(s, {}).map((r) => [r.sku, r.onHand, r.uom])).toEqual([['CEM', 7, 'ea'], ['REBAR', 3, 'm']]);
    expect(s.feed.map((m) => m.pos)).toEqual([12, 11, 10]);
    expect(stockLines(s, {})).toEqual(stockLines(once, {}));
    expect(s.pos).toBe(12);
    expect(s.items.get('CEM')?.name).toBe('Cement');
  });

  it('counts the frames that carry a project movement or stock row (the project panel refreshes on them)', () => {
    let s = reduce(initialState(), { type: 'snapshot', data: snapshot() });
    const base = s.projectFrames;
    s = reduce(s, { type: 'frame', data: frame({ pos: 11, feed: [mv(11)], stock: [row({ onHand: 2 })] }) });
    expect(s.projectFrames).toBe(base);
    s = reduce(s, { type: 'frame', data: frame({ pos: 12, feed: [mv(12, { kind: 'issue', project: 'P-1', stage: 'S1' })] }) });
    expect(s.projectFrames).toBe(base + 1);
    s = reduce(s, { type: 'frame', data: frame({ pos: 13, stock: [row({ project: 'P-1', onHand: 3 })] }) });
    expect(s.projectFrames).toBe(base + 2);
    expect(s.frames).toBe(3);
  });

  it('keeps the feed newest first and bounded', () => {
    let s = reduce(initialState(), { type: 'snapshot', data: snapshot() });
    for (let p = 1; p <= 500; p += 50) s = reduce(s, { type: 'frame', data: frame({ pos: p + 49, feed: Array.from({ length: 50 }, (_, i) => mv(p + i)) }) });
    expect(s.feed).toHaveLength(FEED_MAX);
    expect(s.feed[0]!.pos).toBe(500);
    expect(s.feed[FEED_MAX - 1]!.pos).toBe(301);
  });

  it('never adds quantities across units, and sums exactly in thousandths', () => {
    expect(totalsByUom([{ onHand: 0.1, uom: 'kg' }, { onHand: 0.2, uom: 'kg' }, { onHand: 3, uom: 'm' }, { onHand: 2, uom: 'ea' }])).toEqual([
      { uom: 'ea', qty: 2 },
      { uom: 'kg', qty: 0.3 },
      { uom: 'm', qty: 3 },
    ]);
  });

  it('filters the stock table by site and by SKU, item name, location, batch or project', () => {
    const s = reduce(initialState(), {
      type: 'snapshot',
      data: snapshot({
        stock: [row({ sku: 'CEM', location: 'A1' }), row({ sku: 'REBAR', uom: 'm', location: 'YARD', batch: 'L7' }), row({ site: 'S2', sku: 'CEM', project: 'P-9' }), row({ sku: 'ZERO', onHand: 0 })],
        items: [{ sku: 'REBAR', name: 'Rebar 12 mm', uom: 'm' }],
      }),
    });
    expect(stockLines(s, {}).map((r) => `${r.site}/${r.sku}`)).toEqual(['S1/CEM', 'S1/REBAR', 'S2/CEM']);
    expect(stockLines(s, { site: 'S2' }).map((r) => r.sku)).toEqual(['CEM']);
    expect(stockLines(s, { q: 'rebar 12' }).map((r) => r.sku)).toEqual(['REBAR']);
    expect(stockLines(s, { q: 'l7' }).map((r) => r.sku)).toEqual(['REBAR']);
    expect(stockLines(s, { q: 'p-9' }).map((r) => r.site)).toEqual(['S2']);
    expect(stockLines(s, { q: 'nothing' })).toEqual([]);
  });

  it('summarises sites, and greys edges offline by status or by silence', () => {
    const now = Date.parse('2026-12-06T06:01:00.000Z');
    const s = reduce(initialState(), {
      type: 'snapshot',
      data: snapshot({
        stock: [row({ onHand: 2 }), row({ location: 'B', onHand: 3 }), row({ sku: 'W', uom: 'kg', onHand: 1.5 })],
        edges: [edge({}), edge({ edge: 'e2', state: 'offline' }), edge({ edge: 'e3', lastSeenAt: '2026-12-06T05:50:00.000Z' })],
        alerts: [{ id: 'A1', type: 'safety-stock', site: 'S1', sku: 'CEM', raisedAt: '2026-12-06T06:00:00.000Z', ackedAt: null, ackedBy: null }],
      }),
    });
    expect(siteSummaries(s, now)).toEqual([{ site: 'S1', skus: 2, locations: 2, onHand: [{ uom: 'ea', qty: 5 }, { uom: 'kg', qty: 1.5 }], alerts: 1, exceptions: 0, edgesOnline: 1, edgesOffline: 2 }]);
    expect([...s.edges.values()].map((e) => isOffline(e, now))).toEqual([false, true, true]);
    const acked = reduce(s, { type: 'alert-acked', id: 'A1', by: 'li.wei', at: '2026-12-06T06:02:00.000Z' });
    expect(acked.alerts[0]).toMatchObject({ ackedBy: 'li.wei' });
  });

  it('replaces open alerts and exceptions only when a frame carries them', () => {
    let s = reduce(initialState(), { type: 'snapshot', data: snapshot({ exceptions: [{ id: 1, type: 'NEGATIVE_STOCK', site: 'S1', movementId: 'M1', sku: 'CEM', location: 'A', batch: '', project: '', message: 'm', raisedAt: 'x' }] }) });
    s = reduce(s, { type: 'frame', data: frame({ stock: [row({})] }) });
    expect(s.exceptions).toHaveLength(1);
    s = reduce(s, { type: 'frame', data: frame({ exceptions: [] }) });
    expect(s.exceptions).toHaveLength(0);
  });

  it('sums project stock and issues per unit', () => {
    const s = reduce(initialState(), {
      type: 'snapshot',
      data: snapshot({ stock: [row({ project: 'P-1', onHand: 4 })], feed: [mv(3, { project: 'P-1', kind: 'issue', qty: 2 }), mv(2, { project: 'P-1', kind: 'issue', qty: 1.5, uom: 'm' }), mv(1, { project: 'P-2', kind: 'receive' })] }),
    });
    expect(projectSummaries(s)).toEqual([
      { project: 'P-1', site: 'S1', onHand: [{ uom: 'ea', qty: 4 }], issued: [{ uom: 'ea', qty: 2 }, { uom: 'm', qty: 1.5 }] },
      { project: 'P-2', site: 'S1', onHand: [], issued: [] },
    ]);
  });
});

describe('board languages', () => {
  it('has the same keys in zh-CN and English, none empty, and zh-CN really translated', () => {
    expect(Object.keys(zh).sort()).toEqual(Object.keys(en).sort());
    for (const d of Object.values(DICTS)) for (const v of Object.values(d)) expect(v.trim()).not.toBe('');
    const same = Object.entries(en).filter(([k, v]) => zh[k as keyof typeof en] === v).map(([k]) => k);
    expect(same).toEqual([]);
    // Placeholders survive translation.
    for (const [k, v] of Object.entries(en)) expect((zh[k as keyof typeof en].match(/\{\w+\}/g) ?? []).sort()).toEqual((v.match(/\{\w+\}/g) ?? []).sort());
  });

  it('defaults from the browser language and fills placeholders', () => {
    expect(defaultLang(['zh-CN', 'en'])).toBe('zh-CN');
    expect(defaultLang(['zh-TW'])).toBe('zh-CN');
    expect(defaultLang(['en-GB', 'zh-CN'])).toBe('en');
    expect(defaultLang(['fr-FR'])).toBe('en');
    expect(t('en', 'lastSeen', { ago: '5 minutes ago' })).toBe('last seen 5 minutes ago');
    expect(t('zh-CN', 'stockLevel', { sku: 'CEM' })).toBe('CEM 库存变化');
  });
});
