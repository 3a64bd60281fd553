import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ulid } from 'ulid';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Alert } from '../../../cloud/alerts/alert-store.js';
import { alertEvent } from '../../../cloud/alerts/events.js';
import { SqliteAlertStore } from '../../../cloud/alerts/sqlite.js';
import type { ChannelInput } from '../../../cloud/channels/model.js';
import { ChannelDispatcher, type ChannelDispatcherOptions } from '../../../cloud/channels/service.js';
import { type Answer, type Bot, type BotKind, type BotRequest, startBot } from '../../helpers/chat-bots.js';

/**
 * Every chat channel end to end: alert store (SQLite) -> per-channel queue -> ChannelDispatcher ->
 * a local robot emulator (tests/helpers/chat-bots.ts) that recomputes the signature as the service
 * documents it and checks the body. The clock is injected: retries and rate windows are checked
 * in simulated time, never by waiting.
 */
const log = pino({ level: 'silent' });
const DING_SECRET = 'SEC0123456789abcdef';
const FEISHU_SECRET = 'demo-feishu-secret';
const WECOM_KEY = '693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa';

let dir: string;
let store: SqliteAlertStore;
let clock: number;
let bots: Bot[];
let seq: number;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sg-channels-'));
  store = new SqliteAlertStore(join(dir, 'alerts.db'));
  // Near the real time so "within an hour" checks are meaningful, and a minute ahead of it: the
  // alert store stamps queued deliveries with the real clock, and they must be due on this one.
  clock = Date.now() + 60_000;
  bots = [];
  seq = 0;
});

afterEach(async () => {
  for (const b of bots) await b.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function bot(kind: BotKind, secret: string | undefined, script?: (r: BotRequest) => Answer): Promise<Bot> {
  const b = await startBot(kind, secret, script);
  bots.push(b);
  return b;
}

function dispatcher(o: ChannelDispatcherOptions = {}): ChannelDispatcher {
  return new ChannelDispatcher(store.channels, log, { now: () => new Date(clock), gatherMs: 0, uomOf: async () => 'bag', ...o });
}

async function channel(input: Omit<ChannelInput, 'lang'> & { lang?: ChannelInput['lang'] }): Promise<string> {
  return (await store.channels.addChannel({ lang: 'zh-CN', ...input, id: ulid(), createdAt: new Date(clock).toISOString() })).id;
}

function stockAlert(over: Partial<Alert> = {}): Alert {
  seq++;
  const sku = over.sku ?? `SKU-${String(seq).padStart(3, '0')}`;
  return { id: ulid(), type: 'safety-stock', site: 'depot-1', key: sku, sku, value: 8, threshold: 10, state: 'open', raisedAt: new Date(clock).toISOString(), resolvedAt: null, ackedAt: null, ackedBy: null, ...over };
}

async function raise(a: Alert = stockAlert()): Promise<Alert> {
  expect(await store.openAlert(a, alertEvent(a, 'opened', ulid()))).toBe(true);
  return a;
}

const deliveries = (id: string) => store.channels.listDeliveries({ channelId: id, limit: 1000 });

/** Advance the clock in steps, running the dispatcher after each. */
async function runFor(d: ChannelDispatcher, ms: number, step = 1000): Promise<void> {
  for (let t = 0; t <= ms; t += step) {
    await d.runOnce();
    clock += step;
  }
}

/** Most requests in any window of `windowMs` (by the signing timestamps the robot saw). */
function maxInWindow(times: number[], windowMs: number): number {
  const s = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < s.length; i++) {
    while (s[i]! - s[j]! >= windowMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

describe('DingTalk', () => {
  it('markdown, signed with timestamp (ms) and sign in the URL; zh-CN with site, sku and quantities with their unit', async () => {
    const b = await bot('dingtalk', DING_SECRET);
    const id = await channel({ type: 'dingtalk', url: b.url, secret: DING_SECRET, routes: { types: ['safety-stock'] } });
    await raise();
    expect(await dispatcher().runOnce()).toBe(1);
    expect(b.got).toHaveLength(1);
    expect(b.got[0]!.problem).toBeUndefined();
    expect(b.got[0]!.ts).toBe(clock);
    expect(b.got[0]!.body).toMatchObject({ msgtype: 'markdown', markdown: { title: '[stockgate] 低于安全库存 depot-1 SKU-001' } });
    expect(b.got[0]!.text).toContain('低于安全库存');
    expect(b.got[0]!.text).toMatch(/站点 depot-1 · SKU SKU-001 · 现有 8 bag，安全库存 10 bag/);
    expect(await deliveries(id)).toMatchObject([{ state: 'delivered', attempts: 1, lastErrorCode: null }]);
  });

  it('actionCard when the channel has a link; English', async () => {
    const b = await bot('dingtalk', DING_SECRET);
    await channel({ type: 'dingtalk', url: b.url, secret: DING_SECRET, routes: { types: ['edge-offline'] }, lang: 'en', link: 'https://board.example/board' });
    await raise({ ...stockAlert(), type: 'edge-offline', key: 'dock-1', edge: 'dock-1', sku: undefined as never, value: undefined as never, threshold: undefined as never });
    await dispatcher().runOnce();
    expect(b.ok()).toHaveLength(1);
    expect(b.got[0]!.body).toMatchObject({ msgtype: 'actionCard', actionCard: { singleTitle: 'Open the board', singleURL: 'https://board.example/board' } });
    expect(b.got[0]!.text).toContain('**Edge offline** · site depot-1 · edge dock-1');
  });

  it('a bad signature (310000) is not retried: the delivery is failed', async () => {
    const b = await bot('dingtalk', DING_SECRET);
    const id = await channel({ type: 'dingtalk', url: b.url, secret: 'not-the-robots-secret', routes: { types: ['safety-stock'] } });
    await raise();
    const d = dispatcher();
    await runFor(d, 600_000, 10_000);
    expect(b.got).toHaveLength(1);
    expect(b.got[0]!.problem).toBe('sign');
    expect(await deliveries(id)).toMatchObject([{ state: 'failed', attempts: 1, lastErrorCode: '310000', nextAttemptAt: null }]);
  });

  it('130101 "send too fast": retried, the first retry no sooner than 60 s', async () => {
    const b = await bot('dingtalk', DING_SECRET, (r) => (r.n === 1 ? { status: 200, body: { errcode: 130101, errmsg: 'send too fast, exceed 20 times per minute' } } : undefined));
    const id = await channel({ type: 'dingtalk', url: b.url, secret: DING_SECRET, routes: { types: ['safety-stock'] } });
    await raise();
    const d = dispatcher();
    const t0 = clock;
    await d.runOnce();
    const [first] = await deliveries(id);
    expect(first).toMatchObject({ state: 'pending', attempts: 1, lastErrorCode: '130101' });
    expect(Date.parse(first!.nextAttemptAt!)).toBeGreaterThanOrEqual(t0 + 60_000);
    clock = t0 + 59_999;
    await d.runOnce();
    expect(b.got).toHaveLength(1);
    clock = t0 + 60_000;
    await d.runOnce();
    expect(b.got).toHaveLength(2);
    expect(await deliveries(id)).toMatchObject([{ state: 'delivered', attempts: 2, lastErrorCode: '130101' }]);
  });

  it('100 alerts in 10 s: at most 20 posts in any rolling minute, every alert delivered exactly once', async () => {
    // The emulator enforces the documented limit too: a 21st post within a minute gets 130101.
    const sent: number[] = [];
    const b = await bot('dingtalk', DING_SECRET, (r) => {
      if (r.problem) return undefined;
      sent.push(r.ts!);
      return maxInWindow(sent, 60_000) > 20 ? { status: 200, body: { errcode: 130101, errmsg: 'send too fast' } } : undefined;
    });
    const id = await channel({ type: 'dingtalk', url: b.url, secret: DING_SECRET, routes: { types: ['safety-stock'] } });
    const d = dispatcher();
    for (let i = 0; i < 100; i++) {
      await raise();
      await d.runOnce();
      clock += 100; // one alert every 100 ms: 100 in 10 s
    }
    await runFor(d, 5 * 60_000, 500);
    const posts = b.got;
    expect(posts.every((p) => p.problem === undefined)).toBe(true);
    expect(maxInWindow(posts.map((p) => p.ts!), 60_000)).toBeLessThanOrEqual(20);
    // Fewer posts than alerts: the burst was merged into digests.
    expect(posts.length).toBeLessThan(100);
    const skus = posts.flatMap((p) => [...p.text!.matchAll(/SKU (SKU-\d{3})/g)].map((m) => m[1]));
    expect(skus).toHaveLength(100);
    expect(new Set(skus).size).toBe(100);
    const ds = await deliveries(id);
    expect(ds).toHaveLength(100);
    expect(ds.every((x) => x.state === 'delivered')).toBe(true);
    expect(posts.some((p) => (p.body as { markdown: { title: string } }).markdown.title.includes('条告警'))).toBe(true);
  });
});

describe('DingTalk under sustained load', () => {
  it('an alert a second for 5 minutes: at most 20 posts in any rolling minute, every alert delivered once', async () => {
    const sent: number[] = [];
    const b = await bot('dingtalk', DING_SECRET, (r) => {
      if (r.problem) return undefined;
      sent.push(r.ts!);
      return maxInWindow(sent, 60_000) > 20 ? { status: 200, body: { errcode: 130101, errmsg: 'send too fast' } } : undefined;
    });
    const id = await channel({ type: 'dingtalk', url: b.url, secret: DING_SECRET, routes: { types: ['safety-stock'] } });
    const d = dispatcher();
    for (let i = 0; i < 300; i++) {
      await raise();
      await runFor(d, 500, 500); // two passes per second
    }
    await runFor(d, 120_000, 1000);
    expect(b.got.every((p) => p.problem === undefined)).toBe(true);
    expect(maxInWindow(b.got.map((p) => p.ts!), 60_000)).toBe(20);
    const skus = b.got.flatMap((p) => [...p.text!.matchAll(/SKU (SKU-\d{3})/g)].map((m) => m[1]));
    expect(new Set(skus).size).toBe(300);
    expect(skus).toHaveLength(300);
    expect((await deliveries(id)).every((x) => x.state === 'delivered')).toBe(true);
  });
});

describe('Feishu / Lark', () => {
  it('an interactive card with timestamp (s) and sign in the body', async () => {
    const b = await bot('feishu', FEISHU_SECRET);
    const id = await channel({ type: 'feishu', url: b.url, secret: FEISHU_SECRET, routes: { types: ['safety-stock', 'reorder'] }, lang: 'en' });
    const a = await raise();
    const d = dispatcher();
    await d.runOnce();
    expect(b.ok()).toHaveLength(1);
    expect(b.got[0]!.ts).toBe(Math.floor(clock / 1000) * 1000);
    expect(b.got[0]!.body).toMatchObject({ msg_type: 'interactive', card: { header: { title: { content: '[stockgate] Below safety stock depot-1 SKU-001' }, template: 'red' } } });
    expect(b.got[0]!.text).toContain('on hand 8 bag, safety stock 10 bag');
    clock += 5000;
    expect(await store.resolveAlert(a.id, new Date(clock).toISOString(), alertEvent({ ...a, state: 'resolved', resolvedAt: new Date(clock).toISOString() }, 'resolved', ulid()))).toBe(true);
    await d.runOnce();
    expect(b.ok()).toHaveLength(2);
    expect(b.got[1]!.body).toMatchObject({ card: { header: { template: 'green', title: { content: '[stockgate] Resolved: Below safety stock depot-1 SKU-001' } } } });
    expect((await deliveries(id)).map((x) => x.state)).toEqual(['delivered', 'delivered']);
  });

  it('bodies stay within 20 KB and 5 posts a second: a long burst is cut into whole alerts', async () => {
    const posts: BotRequest[] = [];
    const b = await bot('feishu', FEISHU_SECRET, (r) => void posts.push(r));
    const id = await channel({ type: 'feishu', url: b.url, secret: FEISHU_SECRET, routes: { types: ['near-expiry'] } });
    for (let i = 0; i < 150; i++) {
      const a = stockAlert({ type: 'near-expiry', value: 12, threshold: 30 });
      await raise({ ...a, key: `${a.sku}/B`, batch: `批次-${'长'.repeat(60)}-${i}` });
    }
    await runFor(dispatcher(), 120_000, 200);
    expect(b.got.every((r) => r.problem === undefined && r.raw.length <= 20 * 1024)).toBe(true);
    expect(b.got.length).toBeGreaterThan(1);
    expect(maxInWindow(b.got.map((r) => r.ts!), 1000)).toBeLessThanOrEqual(5);
    const skus = b.got.flatMap((p) => [...p.text!.matchAll(/SKU (SKU-\d{3})/g)].map((m) => m[1]));
    expect(new Set(skus).size).toBe(150);
    expect(skus).toHaveLength(150);
    expect(b.got[0]!.text).toContain('12 天后过期（提前 30 天提醒）');
    expect((await deliveries(id)).every((x) => x.state === 'delivered')).toBe(true);
  });

  it('11232 (throttled) is retried with backoff; 19021 (bad sign) fails at once', async () => {
    let signed = 0;
    const b = await bot('feishu', FEISHU_SECRET, (r) => (!r.problem && ++signed <= 2 ? { status: 200, body: { code: 11232, msg: 'frequency limited' } } : undefined));
    const good = await channel({ type: 'feishu', url: b.url, secret: FEISHU_SECRET, routes: { types: ['safety-stock'] } });
    const bad = await channel({ type: 'feishu', url: b.url, secret: 'wrong-secret', routes: { types: ['safety-stock'] } });
    await raise();
    const d = dispatcher();
    const t0 = clock;
    await d.runOnce();
    const [g1] = await deliveries(good);
    expect(g1).toMatchObject({ state: 'pending', attempts: 1, lastErrorCode: '11232', nextAttemptAt: new Date(t0 + 1000).toISOString() });
    expect(await deliveries(bad)).toMatchObject([{ state: 'failed', attempts: 1, lastErrorCode: '19021' }]);
    clock = t0 + 1000;
    await d.runOnce();
    expect(await deliveries(good)).toMatchObject([{ state: 'pending', attempts: 2, nextAttemptAt: new Date(t0 + 1000 + 2000).toISOString() }]);
    clock = t0 + 3000;
    await d.runOnce();
    expect(await deliveries(good)).toMatchObject([{ state: 'delivered', attempts: 3, lastErrorCode: '11232' }]);
    expect(b.got.filter((r) => r.problem === 'sign')).toHaveLength(1);
  });

  it.each([19022, 19024])('%i (IP / keyword) is permanent', async (code) => {
    const b = await bot('feishu', FEISHU_SECRET, () => ({ status: 200, body: { code, msg: 'refused' } }));
    const id = await channel({ type: 'feishu', url: b.url, secret: FEISHU_SECRET, routes: { types: ['safety-stock'] } });
    await raise();
    await runFor(dispatcher(), 600_000, 30_000);
    expect(b.got).toHaveLength(1);
    expect(await deliveries(id)).toMatchObject([{ state: 'failed', attempts: 1, lastErrorCode: String(code) }]);
  });
});

describe('WeCom', () => {
  it('an alert with Chinese text arrives within 4096 bytes, cut on a character boundary', async () => {
    const b = await bot('wecom', WECOM_KEY);
    const id = await channel({ type: 'wecom', url: b.url, secret: WECOM_KEY, routes: { types: ['near-expiry'] } });
    const a = stockAlert({ type: 'near-expiry', sku: '水泥-普通硅酸盐-42.5', value: 3, threshold: 30 });
    // 1500 CJK characters (4500 bytes) in one alert: more than WeCom takes.
    await raise({ ...a, key: `${a.sku}/x`, batch: `批号${'混凝土'.repeat(500)}` });
    await dispatcher().runOnce();
    expect(b.got).toHaveLength(1);
    expect(b.got[0]!.problem).toBeUndefined();
    const content = b.got[0]!.text!;
    expect(Buffer.byteLength(content, 'utf8')).toBeLessThanOrEqual(4096);
    expect(Buffer.byteLength(content, 'utf8')).toBeGreaterThan(4096 - 6);
    expect(content).not.toContain('\uFFFD');
    expect(content).toContain('临近过期');
    expect(content).toContain('SKU 水泥-普通硅酸盐-42.5');
    expect(content.endsWith('…')).toBe(true);
    expect(await deliveries(id)).toMatchObject([{ state: 'delivered' }]);
  });

  it('a digest of Chinese alerts is split into posts of whole alerts, each within 4096 bytes', async () => {
    const b = await bot('wecom', WECOM_KEY);
    // The key may also be given in the URL.
    await channel({ type: 'wecom', url: `${b.url}?key=${WECOM_KEY}`, routes: { types: ['safety-stock'] } });
    for (let i = 0; i < 60; i++) await raise(stockAlert({ site: '北京-三号工地' }));
    await runFor(dispatcher(), 60_000, 1000);
    expect(b.got.length).toBeGreaterThan(1);
    expect(b.got.every((r) => !r.problem && Buffer.byteLength(r.text!, 'utf8') <= 4096 && !r.text!.endsWith('…'))).toBe(true);
    const skus = b.got.flatMap((p) => [...p.text!.matchAll(/SKU (SKU-\d{3})/g)].map((m) => m[1]));
    expect(new Set(skus).size).toBe(60);
    expect(skus).toHaveLength(60);
  });

  it('45009 (frequency limit) is retried; 93000 (invalid webhook URL) fails', async () => {
    const b = await bot('wecom', WECOM_KEY, (r) => (r.n === 1 && !r.problem ? { status: 200, body: { errcode: 45009, errmsg: 'api freq out of limit' } } : undefined));
    const good = await channel({ type: 'wecom', url: b.url, secret: WECOM_KEY, routes: { types: ['safety-stock'] } });
    await raise();
    const d = dispatcher();
    await d.runOnce();
    expect(await deliveries(good)).toMatchObject([{ state: 'pending', attempts: 1, lastErrorCode: '45009' }]);
    const bad = await channel({ type: 'wecom', url: b.url, secret: 'no-such-key', routes: { types: ['safety-stock'] } });
    await raise();
    await runFor(d, 120_000, 1000);
    expect((await deliveries(good)).map((x) => x.state)).toEqual(['delivered', 'delivered']);
    expect(await deliveries(bad)).toMatchObject([{ state: 'failed', attempts: 1, lastErrorCode: '93000' }]);
  });
});

describe('outages', () => {
  it('5xx: exponential backoff from 1 s, capped at 5 min, until it succeeds', async () => {
    let down = true;
    const b = await bot('wecom', WECOM_KEY, () => (down ? { status: 503, body: { message: 'upstream' } } : undefined));
    const id = await channel({ type: 'wecom', url: b.url, secret: WECOM_KEY, routes: { types: ['safety-stock'] } });
    await raise();
    const d = dispatcher();
    const delays: number[] = [];
    for (let i = 0; i < 12; i++) {
      await d.runOnce();
      const [x] = await deliveries(id);
      expect(x).toMatchObject({ state: 'pending', attempts: i + 1, lastErrorCode: 'HTTP_503' });
      const next = Date.parse(x!.nextAttemptAt!);
      delays.push(next - clock);
      clock = next;
    }
    expect(delays).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300].map((s) => s * 1000));
    down = false;
    await d.runOnce();
    expect(await deliveries(id)).toMatchObject([{ state: 'delivered', attempts: 13, lastErrorCode: 'HTTP_503' }]);
  });

  it('a network error (nothing listening) is retried, with the error code recorded', async () => {
    const b = await bot('dingtalk', DING_SECRET);
    const url = b.url;
    await b.close();
    bots = [];
    const id = await channel({ type: 'dingtalk', url, secret: DING_SECRET, routes: { types: ['safety-stock'] } });
    await raise();
    await dispatcher().runOnce();
    expect(await deliveries(id)).toMatchObject([{ state: 'pending', attempts: 1, lastErrorCode: 'ECONNREFUSED' }]);
  });
});

describe('webhook channel', () => {
  it('posts the digest as JSON with the stockgate signature headers', async () => {
    const b = await bot('webhook', 'webhook-secret-0123456789');
    const id = await channel({ type: 'webhook', url: b.url, secret: 'webhook-secret-0123456789', routes: { types: ['safety-stock'] }, lang: 'en' });
    await raise();
    await raise();
    await dispatcher().runOnce();
    expect(b.ok()).toHaveLength(1);
    expect(b.got[0]!.body).toMatchObject({ title: '[stockgate] 2 alerts', lang: 'en', alerts: [{ sku: 'SKU-001', uom: 'bag' }, { sku: 'SKU-002' }] });
    expect(b.got[0]!.headers['x-stockgate-event-id']).toMatch(/^digest-[0-9a-f]{32}$/);
    expect((await deliveries(id)).map((x) => x.state)).toEqual(['delivered', 'delivered']);
  });
});

describe('durability', () => {
  it('a queued alert survives a restart, and a post claimed by a sender that died is sent after its lease', async () => {
    const b = await bot('wecom', WECOM_KEY);
    const id = await channel({ type: 'wecom', url: b.url, secret: WECOM_KEY, routes: { types: ['safety-stock'] } });
    await raise();
    // The cloud stops before sending: the delivery is in alerts.db with the alert.
    await store.close();
    store = new SqliteAlertStore(join(dir, 'alerts.db'));
    expect(await deliveries(id)).toMatchObject([{ state: 'pending', attempts: 0 }]);
    // A sender claims the post and dies before it sends (no answer recorded).
    const d = dispatcher();
    const [claimed] = await store.channels.claimPosts({ now: new Date(clock), dueBefore: new Date(clock), leaseMs: d.leaseMs, limit: 1, maxItems: 10 });
    expect(claimed!.items).toHaveLength(1);
    clock += d.leaseMs - 1;
    await d.runOnce();
    expect(b.got).toHaveLength(0);
    clock += 1;
    await d.runOnce();
    expect(b.ok()).toHaveLength(1);
    expect(await deliveries(id)).toMatchObject([{ state: 'delivered', attempts: 1 }]);
  });
});
