import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BoardAttention, BoardFrame, BoardHistory, BoardResync, BoardSnapshot } from '../../../protocols/http/board.js';
import { API_EDGE } from '../../../cloud/store/store.js';
import { type ApiCloud, startApiCloud } from '../../helpers/api-cloud.js';
import { movement } from '../../helpers/movements.js';
import { uniqueId } from '../../helpers/procs.js';
import { openSse, type SseEvent, type SseReader } from '../../helpers/sse.js';

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
    // The commits before any stream were left unread (the hub only marks itself behind): the
    // snapshot still stands at the ledger's end, and no frame repeats a row it already holds.
    const head = await api.call('GET', `/api/v1/movements?site=${site}&limit=1`);
    expect(snap.pos).toBe(head.body.items[0].pos);

    await submit(3, { sku: 'REBAR', uom: 'm', operator: 'zhang.san' });
    const e = await s.next((x) => x.event === 'frame' && BoardFrame.parse(JSON.parse(x.data)).stock.some((r) => r.sku === 'REBAR'));
    const frame = BoardFrame.parse(JSON.parse(e.data));
    expect(Number(e.id)).toBe(frame.pos);
    expect(frame.pos).toBeGreaterThan(snap.pos);
    const fed = s.events.filter((x) => x.event === 'frame').flatMap((x) => BoardFrame.parse(JSON.parse(x.data)).feed);
    expect(fed.filter((m) => m.pos <= snap.pos)).toEqual([]);
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
    // The burst's frames up to the one where the balance is final and the feed has reached every
    // movement: a frame reads the balances when it is flushed, and on PostgreSQL the last commit's
    // balance can be visible before the hub has read that commit's ledger rows (the next frame
    // brings them), so the balance alone does not mark the end of the feed.
    const burstFrames = (upTo: SseEvent) => s.events.slice(from, s.events.indexOf(upTo) + 1).filter((e) => e.event === 'frame').map((e) => BoardFrame.parse(JSON.parse(e.data)));
    const reached = (fs: ReturnType<typeof burstFrames>) => fs.reduce((n, f) => n + f.feed.filter((m) => m.sku === 'BURST').length + (f.feedDropped ?? 0), 0);
    const last = await s.next(
      (e) => e.event === 'frame' && BoardFrame.parse(JSON.parse(e.data)).stock.some((r) => r.sku === 'BURST' && r.onHand === want) && reached(burstFrames(e)) >= 200,
      10_000,
      from,
    );
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

  it('signs a browser in with an HTTP-only cookie; writes need the board header too', async () => {
    const tok = (await api.call('POST', '/api/v1/tokens', { body: { name: 'manager', roles: ['site-manager'], sites: [site] } })).body.token as string;
    const bad = await fetch(`${api.url}/board/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'sgt_nope_nope' }) });
    expect(bad.status).toBe(401);
    const login = await fetch(`${api.url}/board/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: tok }) });
    expect(login.status).toBe(204);
    const setCookie = login.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^sg_board=/);
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);
    const cookie = setCookie.split(';')[0]!;
    const me = await fetch(`${api.url}/board/api/me`, { headers: { cookie } });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ roles: ['site-manager'], sites: [site], canAck: true, canResolve: true });
    const s = await openSse(`${api.url}/board/events`, { cookie });
    open.push(s);
    expect((await s.next()).event).toBe('snapshot');
    // A write riding on the cookie alone (a cross-site form) is not authenticated; with the header it is.
    const ex = (await api.call('GET', `/api/v1/exceptions?site=${site}&state=all`)).body.items[0];
    const path = `/api/v1/exceptions/${ex?.id ?? 999999}/resolve`;
    const bare = await fetch(`${api.url}${path}`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify({ resolution: 'x' }) });
    expect(bare.status).toBe(401);
    const withHeader = await fetch(`${api.url}${path}`, { method: 'POST', headers: { cookie, 'content-type': 'application/json', 'x-stockgate-board': '1' }, body: JSON.stringify({ resolution: 'x' }) });
    expect([200, 404]).toContain(withHeader.status);
    const out = await fetch(`${api.url}/board/logout`, { method: 'POST' });
    expect(out.headers.get('set-cookie')).toMatch(/sg_board=;/);
  });

  it('answers the attention and history views within the caller\'s scope', async () => {
    const att = await api.call('GET', `/board/api/attention?site=${site}`);
    expect(att.status).toBe(200);
    expect(BoardAttention.parse(att.body).windowDays).toBe(28);
    const h = await api.call('GET', `/board/api/history?site=${site}&sku=CEM`);
    const hist = BoardHistory.parse(h.body);
    const cem = hist.series.find((x) => x.uom === 'ea')!;
    const rest = (await api.call('GET', `/api/v1/stock?site=${site}&sku=CEM`)).body.items.reduce((n: number, r: { onHand: number }) => n + r.onHand, 0);
    // The line ends at today's on hand and starts from nothing.
    expect(cem.points[cem.points.length - 1]![1]).toBe(rest);
    expect(cem.points[0]![1]).toBe(1);
    expect(hist.perHour).toHaveLength(24);
    expect(hist.perHour.reduce((n, [, c]) => n + c, 0)).toBeGreaterThan(0);
  });

  it('shows a project manager only its projects, in the snapshot, the frames and the views', async () => {
    const user = uniqueId('pm');
    expect((await api.call('POST', '/api/v1/users', { body: { id: user, name: 'PM', roles: ['project-manager'], sites: [site], projects: ['P-MINE'] } })).status).toBeLessThan(300);
    const tok = await api.call('POST', '/api/v1/tokens', { body: { user } });
    expect(tok.status).toBe(201);
    const pmMove = (project: string, sku: string) => movement({ site, edge: API_EDGE, seq: 0, sku, qty: 2, project, raw: 'x' });
    await api.cloud.ingester.submit([pmMove('P-MINE', 'PM-SKU'), pmMove('P-OTHER', 'PM-SKU')]);
    const s = await openSse(`${api.url}/board/events?token=${tok.body.token}`);
    open.push(s);
    expect(s.status).toBe(200);
    const snap = BoardSnapshot.parse(JSON.parse((await s.next()).data));
    expect(snap.caller.projects).toEqual(['P-MINE']);
    expect(snap.stock.length).toBeGreaterThan(0);
    expect(new Set(snap.stock.map((r) => r.project))).toEqual(new Set(['P-MINE']));
    expect(snap.feed.every((m) => m.project === 'P-MINE')).toBe(true);
    expect(snap.alerts).toEqual([]);
    await api.cloud.ingester.submit([pmMove('P-OTHER', 'PM-LATE'), pmMove('P-MINE', 'PM-LATE')]);
    const f = BoardFrame.parse(JSON.parse((await s.next((e) => e.event === 'frame' && e.data.includes('PM-LATE'))).data));
    expect(new Set(f.stock.map((r) => r.project))).toEqual(new Set(['P-MINE']));
    expect(new Set(f.feed.map((m) => m.project))).toEqual(new Set(['P-MINE']));
    expect(f.feed.filter((m) => m.sku === 'PM-LATE')).toHaveLength(1);
    const att = await api.call('GET', `/board/api/attention?site=${site}`, { token: tok.body.token });
    expect(att.status).toBe(200);
    const hist = BoardHistory.parse((await api.call('GET', `/board/api/history?site=${site}&sku=PM-SKU`, { token: tok.body.token })).body);
    // Its own project's 2, not the other project's.
    expect(hist.series.find((x) => x.uom === 'ea')!.points.at(-1)![1]).toBe(2);
  });

  it('types resync as the contract says', () => {
    expect(BoardResync.parse({ reason: 'overflow' }).reason).toBe('overflow');
  });
});
