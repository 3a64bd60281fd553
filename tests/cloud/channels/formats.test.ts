import { describe, expect, it } from 'vitest';
import { type AlertEventJson, alertLine, dingtalkSign, feishuSign, render, title, truncateUtf8 } from '../../../cloud/channels/formats.js';
import { ChannelInput, type ChannelWithSecret } from '../../../cloud/channels/model.js';
import { classifyNetworkError, classifyResponse, classifySmtpError, nextPostAt, RATE_LIMITS, retryAt, routeMatches } from '../../../cloud/channels/rules.js';

const at = new Date('2026-12-06T03:00:05.123Z');
const ev = (o: Partial<AlertEventJson> = {}): AlertEventJson => ({
  id: '01J0000000000000000000000A', type: 'safety-stock', site: 'depot-1', event: 'opened', eventId: 'E1', sku: 'CEMENT-50KG',
  value: 8, threshold: 10, uom: 'bag', raisedAt: '2026-12-06T02:59:00.000Z', resolvedAt: null, ...o,
});
const ch = (o: Partial<ChannelWithSecret>): ChannelWithSecret => ({ id: 'C1', type: 'dingtalk', routes: { types: ['safety-stock'] }, lang: 'zh-CN', createdAt: '', ...o });

describe('signatures: the services\' documented test vectors', () => {
  it('DingTalk: secret SEC0123456789abcdef, ts 1700000000000', () => {
    expect(dingtalkSign('SEC0123456789abcdef', 1700000000000)).toBe('TSZbRFUuvaSQaRKUpF970OPCb2%2FLcQAP3wOvwZIzBZk%3D');
  });

  it('Feishu: secret demo, ts 100', () => {
    expect(feishuSign('demo', 100)).toBe('jquNHnVOwmDRfw+vqTIrY5dooJAgi5EcRtLsQE4wfXg=');
  });

  it('DingTalk: timestamp and the url-encoded sign are appended to the robot URL as sent', () => {
    const r = render(ch({ url: 'https://oapi.dingtalk.com/robot/send?access_token=T', secret: 'SEC0123456789abcdef' }), [ev()], new Date(1700000000000));
    expect(r.message).toMatchObject({ kind: 'http', url: 'https://oapi.dingtalk.com/robot/send?access_token=T&timestamp=1700000000000&sign=TSZbRFUuvaSQaRKUpF970OPCb2%2FLcQAP3wOvwZIzBZk%3D' });
  });

  it('Feishu: timestamp (seconds, a string) and sign go in the body, card at the top level', () => {
    const r = render(ch({ type: 'feishu', url: 'https://open.feishu.cn/open-apis/bot/v2/hook/x', secret: 'demo' }), [ev()], new Date(100_999));
    const body = JSON.parse((r.message as { body: string }).body);
    expect(body).toMatchObject({ timestamp: '100', sign: 'jquNHnVOwmDRfw+vqTIrY5dooJAgi5EcRtLsQE4wfXg=', msg_type: 'interactive', card: { header: { title: { tag: 'plain_text' }, template: 'red' } } });
    expect(body.card.elements[0]).toMatchObject({ tag: 'div', text: { tag: 'lark_md' } });
  });

  it('no secret: no signature (keyword-protected robots)', () => {
    const r = render(ch({ url: 'https://x/robot/send?access_token=T' }), [ev()], at);
    expect((r.message as { url: string }).url).toBe('https://x/robot/send?access_token=T');
  });
});

describe('UTF-8 truncation', () => {
  it('cuts on character boundaries: CJK 3 bytes, emoji 4', () => {
    expect(truncateUtf8('水泥水泥', 12)).toBe('水泥水泥');
    // 11 bytes: room for 8 before the 3-byte ellipsis = 2 characters (6 bytes).
    expect(truncateUtf8('水泥水泥', 11)).toBe('水泥…');
    expect(Buffer.byteLength(truncateUtf8('ab水泥😀x'.repeat(50), 100))).toBeLessThanOrEqual(100);
    for (let n = 3; n < 40; n++) {
      const t = truncateUtf8('a水😀泥b'.repeat(10), n);
      expect(Buffer.byteLength(t)).toBeLessThanOrEqual(n);
      expect(t).not.toContain('\uFFFD');
    }
  });
});

describe('message text', () => {
  it('zh-CN and English: type name, site, sku, quantities with their unit, time', () => {
    expect(alertLine(ev(), 'zh-CN')).toBe('- 🔴 **低于安全库存** · 站点 depot-1 · SKU CEMENT-50KG · 现有 8 bag，安全库存 10 bag · 2026-12-06 02:59:00 UTC');
    expect(alertLine(ev(), 'en')).toBe('- 🔴 **Below safety stock** · site depot-1 · SKU CEMENT-50KG · on hand 8 bag, safety stock 10 bag · 2026-12-06 02:59:00 UTC');
    expect(alertLine(ev({ event: 'resolved', type: 'reorder', resolvedAt: '2026-12-06T04:00:00.000Z' }), 'en')).toBe(
      '- ✅ **Resolved: Reorder point reached** · site depot-1 · SKU CEMENT-50KG · on hand 8 bag, reorder point 10 bag · 2026-12-06 04:00:00 UTC',
    );
    expect(alertLine(ev({ type: 'expired', batch: 'L7', value: -2, threshold: 0, uom: undefined }), 'zh-CN')).toContain('**已过期** · 站点 depot-1 · SKU CEMENT-50KG · 批次 L7 · 已过期 2 天');
    expect(alertLine(ev({ type: 'outbox-write-error', sku: undefined, edge: 'dock-1', value: undefined, threshold: undefined }), 'en')).toMatch(/^- 🔴 \*\*Outbox write error\*\* · site depot-1 · edge dock-1 · /);
    expect(alertLine(ev({ type: 'scale-drift', sku: undefined, edge: 'dock-1', device: 'scale1', value: 0.08, threshold: 0.05 }), 'zh-CN')).toContain('网关 dock-1 · 设备 scale1 · 零点漂移 0.08 kg（阈值 0.05 kg）');
    expect(alertLine(ev({ type: 'outbox-backlog', sku: undefined, edge: 'dock-1', value: 12000, threshold: 10000 }), 'en')).toContain('backlog 12000 movements (threshold 10000)');
  });

  it('titles name stockgate (robot keyword filters) and count a digest', () => {
    expect(title([ev()], 'zh-CN')).toBe('[stockgate] 低于安全库存 depot-1 CEMENT-50KG');
    expect(title([ev(), ev()], 'zh-CN')).toBe('[stockgate] 2 条告警');
    expect(title([ev(), ev()], 'en')).toBe('[stockgate] 2 alerts');
  });

  it('WeCom: a digest takes the whole alerts that fit in 4096 bytes; the rest wait', () => {
    const items = Array.from({ length: 80 }, (_, i) => ev({ sku: `水泥-${i}`, site: '北京工地' }));
    const r = render(ch({ type: 'wecom', url: 'https://q/cgi-bin/webhook/send', secret: 'K' }), items, at);
    const content = JSON.parse((r.message as { body: string }).body).markdown.content as string;
    expect(r.included).toBeGreaterThan(1);
    expect(r.included).toBeLessThan(80);
    expect(Buffer.byteLength(content)).toBeLessThanOrEqual(4096);
    expect(content.split('\n').filter((l) => l.startsWith('- '))).toHaveLength(r.included);
    expect((r.message as { url: string }).url).toBe('https://q/cgi-bin/webhook/send?key=K');
  });
});

describe('routes', () => {
  it('type always; site and project when given (an alert without a project does not match a project route)', () => {
    expect(routeMatches({ types: ['safety-stock'] }, { type: 'safety-stock', site: 's1' })).toBe(true);
    expect(routeMatches({ types: ['reorder'] }, { type: 'safety-stock', site: 's1' })).toBe(false);
    expect(routeMatches({ types: ['safety-stock'], sites: ['s2'] }, { type: 'safety-stock', site: 's1' })).toBe(false);
    expect(routeMatches({ types: ['safety-stock'], projects: ['P1'] }, { type: 'safety-stock', site: 's1' })).toBe(false);
    expect(routeMatches({ types: ['safety-stock'], projects: ['P1'] }, { type: 'safety-stock', site: 's1', project: 'P1' })).toBe(true);
  });
});

describe('rate limits: a token comes back one window after it was spent', () => {
  it('DingTalk: the 21st post in a minute waits for the first to leave the window', () => {
    const posts = Array.from({ length: 20 }, (_, i) => 1000 + i * 100);
    expect(nextPostAt(RATE_LIMITS.dingtalk, posts.slice(0, 9), 1900)).toBe(1900);
    expect(nextPostAt(RATE_LIMITS.dingtalk, posts, 3000)).toBe(61_000);
    expect(nextPostAt(RATE_LIMITS.dingtalk, posts, 61_000)).toBe(61_000);
  });

  it('paces posts 3 s apart once half of the minute is spent', () => {
    const ten = Array.from({ length: 10 }, (_, i) => 1000 + i * 100);
    expect(nextPostAt(RATE_LIMITS.dingtalk, ten, 2000)).toBe(1900 + 3000);
    expect(nextPostAt(RATE_LIMITS.dingtalk, ten, 5000)).toBe(5000);
  });

  it('Feishu: 5 a second and 100 a minute', () => {
    expect(nextPostAt(RATE_LIMITS.feishu, [0, 10, 20, 30, 40], 50)).toBe(1000);
    const minute = Array.from({ length: 100 }, (_, i) => i * 300);
    expect(nextPostAt(RATE_LIMITS.feishu, minute, 30_000)).toBe(60_000);
  });
});

describe('answers', () => {
  it('HTTP 200 with an error code in the body is not a success', () => {
    expect(classifyResponse('dingtalk', 200, '{"errcode":0,"errmsg":"ok"}')).toEqual({ kind: 'ok' });
    expect(classifyResponse('dingtalk', 200, '{"errcode":130101,"errmsg":"send too fast"}')).toMatchObject({ kind: 'retry', code: '130101', minDelayMs: 60_000 });
    expect(classifyResponse('dingtalk', 200, '{"errcode":310000,"errmsg":"sign not match"}')).toMatchObject({ kind: 'fail', code: '310000' });
    expect(classifyResponse('feishu', 200, '{"code":0,"msg":"success"}')).toEqual({ kind: 'ok' });
    expect(classifyResponse('feishu', 200, '{"StatusCode":0,"StatusMessage":"success"}')).toEqual({ kind: 'ok' });
    expect(classifyResponse('feishu', 200, '{"code":11232,"msg":"frequency limited"}')).toMatchObject({ kind: 'retry', code: '11232' });
    for (const c of [19021, 19022, 19024]) expect(classifyResponse('feishu', 200, `{"code":${c},"msg":"x"}`)).toMatchObject({ kind: 'fail', code: String(c) });
    expect(classifyResponse('wecom', 200, '{"errcode":45009,"errmsg":"freq"}')).toMatchObject({ kind: 'retry', code: '45009' });
    expect(classifyResponse('wecom', 200, '{"errcode":93000,"errmsg":"invalid webhook url"}')).toMatchObject({ kind: 'fail', code: '93000' });
    expect(classifyResponse('wecom', 200, 'not json')).toMatchObject({ kind: 'unknown', code: 'BAD_RESPONSE' });
    expect(classifyResponse('wecom', 200, '{"errcode":40058}')).toMatchObject({ kind: 'unknown', code: '40058' });
    expect(classifyResponse('wecom', 502, '')).toMatchObject({ kind: 'retry', code: 'HTTP_502' });
    expect(classifyResponse('dingtalk', 404, '')).toMatchObject({ kind: 'fail', code: 'HTTP_404' });
    expect(classifyResponse('webhook', 204, '')).toEqual({ kind: 'ok' });
  });

  it('network and SMTP errors', () => {
    expect(classifyNetworkError(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNRESET', message: 'reset' } }))).toMatchObject({ kind: 'retry', code: 'ECONNRESET' });
    expect(classifyNetworkError(Object.assign(new Error('t'), { name: 'TimeoutError' }))).toMatchObject({ kind: 'retry', code: 'TIMEOUT' });
    expect(classifySmtpError(Object.assign(new Error('mailbox unavailable'), { responseCode: 550 }))).toMatchObject({ kind: 'fail', code: 'SMTP_550' });
    expect(classifySmtpError(Object.assign(new Error('try later'), { responseCode: 451 }))).toMatchObject({ kind: 'retry', code: 'SMTP_451' });
    expect(classifySmtpError(Object.assign(new Error('refused'), { code: 'ECONNECTION' }))).toMatchObject({ kind: 'retry', code: 'ECONNECTION' });
  });

  it('retry times: doubling from 1 s, capped at 5 min, 130101 at least 60 s; permanent = null; unknown gives up after 20', () => {
    const p = { baseMs: 1000, capMs: 300_000, maxUnknownAttempts: 20 };
    expect(retryAt({ kind: 'retry', code: 'HTTP_503', error: '' }, 1, 0, p)).toBe(1000);
    expect(retryAt({ kind: 'retry', code: 'HTTP_503', error: '' }, 4, 0, p)).toBe(8000);
    expect(retryAt({ kind: 'retry', code: 'HTTP_503', error: '' }, 40, 0, p)).toBe(300_000);
    expect(retryAt({ kind: 'retry', code: '130101', error: '', minDelayMs: 60_000 }, 1, 0, p)).toBe(60_000);
    expect(retryAt({ kind: 'fail', code: '310000', error: '' }, 1, 0, p)).toBeNull();
    expect(retryAt({ kind: 'unknown', code: '1', error: '' }, 19, 0, p)).toBe(300_000);
    expect(retryAt({ kind: 'unknown', code: '1', error: '' }, 20, 0, p)).toBeNull();
  });
});

describe('POST /api/v1/channels body', () => {
  it('names the field that is wrong', () => {
    const issue = (b: unknown) => {
      const r = ChannelInput.safeParse(b);
      return r.success ? 'ok' : `${r.error.issues[0]!.path.join('.')}: ${r.error.issues[0]!.message}`;
    };
    expect(issue({ type: 'dingtalk', url: 'https://x/y', routes: { types: ['reorder'] } })).toBe('ok');
    expect(issue({ type: 'dingtalk', routes: { types: ['reorder'] } })).toBe('url: required for type dingtalk');
    expect(issue({ type: 'email', url: 'https://x', routes: { types: ['reorder'] } })).toMatch(/^smtp: required/);
    expect(issue({ type: 'wecom', url: 'ftp://x', routes: { types: ['reorder'] } })).toBe('url: expected an http:// or https:// URL');
    expect(issue({ type: 'wecom', url: 'https://x', routes: { types: [] } })).toMatch(/^routes\.types: /);
    expect(issue({ type: 'wecom', url: 'https://x', routes: { types: ['nope'] } })).toMatch(/^routes\.types\.0: /);
    expect(issue({ type: 'wecom', url: 'https://x', routes: { types: ['reorder'] }, lang: 'fr' })).toMatch(/^lang: /);
    expect(issue({ type: 'slack', url: 'https://x', routes: { types: ['reorder'] } })).toMatch(/^type: /);
  });
});
