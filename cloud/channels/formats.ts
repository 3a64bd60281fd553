/**
 * What each service is sent: the message text in zh-CN or English, each robot's body and
 * signature exactly as its documentation gives them, and the size bounds (shared reference
 * "Alert channels"; test vectors in tests/cloud/channels/formats.test.ts). Pure: the clock comes in.
 */
import { createHash, createHmac } from 'node:crypto';
import { signedHeaders } from '../alerts/webhooks.js';
import type { ChannelLang, ChannelType, ChannelWithSecret } from './model.js';

/** The alert event as queued (the alert JSON plus `event` and `eventId`); `uom` added when known. */
export interface AlertEventJson {
  id: string;
  type: string;
  site: string;
  event: 'opened' | 'resolved';
  eventId: string;
  sku?: string;
  batch?: string;
  project?: string;
  /** A project's stage (OVER_ISSUE). */
  stage?: string;
  /** The sales order (RESERVATION_AT_RISK) and its owner, the user who created it. */
  order?: string;
  owner?: string;
  /** Who the alert is addressed to (RESERVATION_AT_RISK: the owner, the site's managers); `routes.users` match it. */
  users?: string[];
  edge?: string;
  device?: string;
  value?: number | string;
  threshold?: number | string;
  uom?: string;
  raisedAt: string;
  resolvedAt?: string | null;
}

// ---- signing ----

/** DingTalk: urlencode(base64(HMAC-SHA256(key = secret, message = ts + "\n" + secret))), ts in ms. */
export function dingtalkSign(secret: string, timestampMs: number | string): string {
  return encodeURIComponent(createHmac('sha256', secret).update(`${timestampMs}\n${secret}`).digest('base64'));
}

/** Feishu/Lark: base64(HMAC-SHA256(key = ts + "\n" + secret, message = "")), ts in seconds. */
export function feishuSign(secret: string, timestampS: number | string): string {
  return createHmac('sha256', `${timestampS}\n${secret}`).update('').digest('base64');
}

// ---- UTF-8 bounds ----

/**
 * The longest prefix of `s` within `maxBytes` of UTF-8, cut on a character boundary (a CJK
 * character is 3 bytes, an emoji 4: a byte cut would leave an invalid sequence the robot rejects).
 * A cut string ends in `…` (3 bytes, counted).
 */
export function truncateUtf8(s: string, maxBytes: number): string {
  const buf = Buffer.from(s, 'utf8');
  if (buf.length <= maxBytes) return s;
  const room = Math.max(0, maxBytes - 3);
  let end = room;
  // Back off continuation bytes (10xxxxxx) to the start of the character that did not fit.
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--;
  return `${buf.subarray(0, end).toString('utf8')}${maxBytes >= 3 ? '…' : ''}`;
}

export const utf8Bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

// ---- text ----

const TYPE_NAMES: Record<string, { 'zh-CN': string; en: string }> = {
  'safety-stock': { 'zh-CN': '低于安全库存', en: 'Below safety stock' },
  reorder: { 'zh-CN': '达到再订货点', en: 'Reorder point reached' },
  overstock: { 'zh-CN': '库存超上限', en: 'Overstock' },
  'near-expiry': { 'zh-CN': '临近过期', en: 'Near expiry' },
  expired: { 'zh-CN': '已过期', en: 'Expired' },
  'edge-offline': { 'zh-CN': '边缘网关离线', en: 'Edge offline' },
  'device-offline': { 'zh-CN': '设备离线', en: 'Device offline' },
  'outbox-backlog': { 'zh-CN': '发件箱积压', en: 'Outbox backlog' },
  'outbox-write-error': { 'zh-CN': '发件箱写入失败', en: 'Outbox write error' },
  'scale-drift': { 'zh-CN': '秤零点漂移', en: 'Scale zero drift' },
  OVER_ISSUE: { 'zh-CN': '超领', en: 'Over-issue' },
  RESERVATION_AT_RISK: { 'zh-CN': '预留库存不足', en: 'Reservation at risk' },
};

const THRESHOLD_NAMES: Record<string, { 'zh-CN': string; en: string }> = {
  'safety-stock': { 'zh-CN': '安全库存', en: 'safety stock' },
  reorder: { 'zh-CN': '再订货点', en: 'reorder point' },
  overstock: { 'zh-CN': '库存上限', en: 'max stock' },
};

const T = {
  'zh-CN': {
    site: '站点', batch: '批次', project: '项目', edge: '网关', device: '设备', onHand: '现有',
    resolved: '已恢复', alerts: (n: number) => `${n} 条告警`, sep: '，',
    expiresIn: (d: string, w: string) => `${d} 天后过期（提前 ${w} 天提醒）`,
    expired: (d: string) => `已过期 ${d} 天`,
    backlog: (v: string, t: string) => `积压 ${v} 条移动（阈值 ${t}）`,
    drift: (v: string, t: string) => `零点漂移 ${v} kg（阈值 ${t} kg）`,
    stage: '阶段',
    overIssue: (v: string, t: string) => `已领 ${v}（计划 ${t}）`,
    order: '销售订单', owner: '负责人',
    atRisk: (v: string, t: string) => `${v} 已无库存覆盖（现有 ${t}）`,
  },
  en: {
    site: 'site', batch: 'batch', project: 'project', edge: 'edge', device: 'device', onHand: 'on hand',
    resolved: 'Resolved', alerts: (n: number) => `${n} alerts`, sep: ', ',
    expiresIn: (d: string, w: string) => `expires in ${d} days (window ${w} days)`,
    expired: (d: string) => `expired ${d} days ago`,
    backlog: (v: string, t: string) => `backlog ${v} movements (threshold ${t})`,
    drift: (v: string, t: string) => `zero drift ${v} kg (threshold ${t} kg)`,
    stage: 'stage',
    overIssue: (v: string, t: string) => `issued ${v} (plan ${t})`,
    order: 'sales order', owner: 'owner',
    atRisk: (v: string, t: string) => `${v} no longer covered (on hand ${t})`,
  },
} as const;

export function typeName(type: string, lang: ChannelLang): string {
  return TYPE_NAMES[type]?.[lang] ?? type;
}

/** Quantities print exactly as stored (no float formatting), with their unit when known. */
const qty = (v: number | string, uom?: string) => (uom ? `${v} ${uom}` : String(v));
const num = (v: number | string) => String(v);

/** `2026-12-06T03:00:05.123Z` → `2026-12-06 03:00:05 UTC`. */
const when = (iso: string | null | undefined) => (iso ? `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC` : '');

function measurement(a: AlertEventJson, lang: ChannelLang): string | undefined {
  const t = T[lang];
  if (a.value === undefined) return undefined;
  const th = THRESHOLD_NAMES[a.type];
  if (th) return `${t.onHand} ${qty(a.value, a.uom)}${a.threshold !== undefined ? `${t.sep}${th[lang]} ${qty(a.threshold, a.uom)}` : ''}`;
  if (a.type === 'near-expiry' || a.type === 'expired') {
    const d = Number(a.value);
    return d < 0 ? t.expired(num(-d)) : t.expiresIn(num(a.value), num(a.threshold ?? ''));
  }
  if (a.type === 'outbox-backlog') return t.backlog(num(a.value), num(a.threshold ?? ''));
  if (a.type === 'scale-drift') return t.drift(num(a.value), num(a.threshold ?? ''));
  if (a.type === 'OVER_ISSUE') return t.overIssue(qty(a.value, a.uom), qty(a.threshold ?? '', a.uom));
  if (a.type === 'RESERVATION_AT_RISK') return t.atRisk(qty(a.value, a.uom), qty(a.threshold ?? '', a.uom));
  return num(a.value);
}

/** The subject: site, then sku / batch / project or edge / device. */
function subject(a: AlertEventJson, lang: ChannelLang): string[] {
  const t = T[lang];
  const parts = [`${t.site} ${a.site}`];
  if (a.sku !== undefined) parts.push(`SKU ${a.sku}`);
  if (a.batch !== undefined) parts.push(`${t.batch} ${a.batch}`);
  if (a.project !== undefined) parts.push(`${t.project} ${a.project}`);
  if (a.stage !== undefined) parts.push(`${t.stage} ${a.stage}`);
  if (a.order !== undefined) parts.push(`${t.order} ${a.order}`);
  if (a.owner !== undefined) parts.push(`${t.owner} ${a.owner}`);
  if (a.edge !== undefined) parts.push(`${t.edge} ${a.edge}`);
  if (a.device !== undefined) parts.push(`${t.device} ${a.device}`);
  return parts;
}

/** One alert as one markdown line: what, where, how much, when. */
export function alertLine(a: AlertEventJson, lang: ChannelLang): string {
  const name = typeName(a.type, lang);
  const head = a.event === 'resolved' ? `✅ **${T[lang].resolved}: ${name}**` : `🔴 **${name}**`;
  const m = measurement(a, lang);
  const at = when(a.event === 'resolved' ? a.resolvedAt : a.raisedAt);
  return `- ${head} · ${[...subject(a, lang), ...(m ? [m] : []), ...(at ? [at] : [])].join(' · ')}`;
}

/** The title: the one alert, or the count of a digest. Always names stockgate (robot keyword filters). */
export function title(items: readonly AlertEventJson[], lang: ChannelLang): string {
  if (items.length === 1) {
    const a = items[0]!;
    const what = `${a.event === 'resolved' ? `${T[lang].resolved}: ` : ''}${typeName(a.type, lang)}`;
    // A project's alert names the project first: it goes to the project's manager.
    return `[stockgate] ${what} ${a.site}${a.order !== undefined ? ` ${a.order}` : ''}${a.project !== undefined ? ` ${a.project}` : ''}${a.sku !== undefined ? ` ${a.sku}` : a.edge !== undefined ? ` ${a.edge}` : ''}`;
  }
  return `[stockgate] ${T[lang].alerts(items.length)}`;
}

const markdown = (head: string, lines: readonly string[]) => `### ${head}\n\n${lines.join('\n')}`;
const plain = (s: string) => s.replace(/\*\*/g, '');

// ---- bodies ----

/** An HTTP post (chat robots, webhooks). */
export interface HttpMessage {
  kind: 'http';
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** An email. */
export interface MailMessage {
  kind: 'mail';
  subject: string;
  text: string;
}

export interface Rendered {
  message: HttpMessage | MailMessage;
  /** How many of the items (from the first) the message carries; the rest wait for the next post. */
  included: number;
}

/** Most alerts in one post. */
export const MAX_ITEMS_PER_POST = 200;

/**
 * Size bounds. WeCom: markdown content ≤ 4096 bytes. Feishu: request body ≤ 20 KB. DingTalk
 * documents none we could check here; 16 KB of text keeps far from any.
 */
export const SIZE_LIMITS = { wecomContentBytes: 4096, feishuBodyBytes: 20 * 1024, dingtalkTextBytes: 16 * 1024 } as const;

/**
 * The largest prefix of `items` whose message fits (`fits` on the built message), at least one; a
 * single alert too large on its own is cut by `truncateUtf8` in the builder. A digest never cuts
 * an alert in half: what does not fit goes in the next post.
 */
function largestFitting<M>(n: number, build: (k: number, cut: boolean) => M, fits: (m: M) => boolean): { m: M; k: number } {
  let lo = 1;
  let hi = n;
  // Binary search: message size grows with k.
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(build(mid, false))) lo = mid;
    else hi = mid - 1;
  }
  const whole = build(lo, false);
  return fits(whole) ? { m: whole, k: lo } : { m: build(1, true), k: 1 };
}

/** `X-Stockgate-Event-Id` of a webhook post: the event id, or for a digest a hash of its event ids (stable across retries). */
function postId(items: readonly AlertEventJson[]): string {
  if (items.length === 1) return items[0]!.eventId;
  return `digest-${createHash('sha256').update(items.map((a) => a.eventId).join(',')).digest('hex').slice(0, 32)}`;
}

const withQuery = (url: string, q: string) => `${url}${url.includes('?') ? '&' : '?'}${q}`;
const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'stockgate-channels/1' };

/** Build the post for `items` (queue order) at `now`. */
export function render(channel: ChannelWithSecret, items: readonly AlertEventJson[], now: Date): Rendered {
  const lang = channel.lang;
  const all = items.slice(0, MAX_ITEMS_PER_POST);
  const lines = all.map((a) => alertLine(a, lang));
  const head = (k: number) => title(all.slice(0, k), lang);
  switch (channel.type as ChannelType) {
    case 'dingtalk': {
      const ts = now.getTime();
      const url = channel.secret ? withQuery(channel.url!, `timestamp=${ts}&sign=${dingtalkSign(channel.secret, ts)}`) : channel.url!;
      const build = (k: number, cut: boolean) => {
        const text = cut ? truncateUtf8(markdown(head(k), lines.slice(0, k)), SIZE_LIMITS.dingtalkTextBytes) : markdown(head(k), lines.slice(0, k));
        const msg = channel.link
          ? { msgtype: 'actionCard', actionCard: { title: head(k), text, singleTitle: lang === 'zh-CN' ? '查看看板' : 'Open the board', singleURL: channel.link } }
          : { msgtype: 'markdown', markdown: { title: head(k), text } };
        return { text, body: JSON.stringify(msg) };
      };
      const { m, k } = largestFitting(all.length, build, (x) => utf8Bytes(x.text) <= SIZE_LIMITS.dingtalkTextBytes);
      return { included: k, message: { kind: 'http', url, headers: { ...JSON_HEADERS }, body: m.body } };
    }
    case 'feishu': {
      const ts = Math.floor(now.getTime() / 1000);
      const signed = channel.secret ? { timestamp: String(ts), sign: feishuSign(channel.secret, ts) } : {};
      const resolvedOnly = (k: number) => all.slice(0, k).every((a) => a.event === 'resolved');
      const card = (k: number, content: string) =>
        JSON.stringify({
          ...signed,
          msg_type: 'interactive',
          card: {
            header: { title: { tag: 'plain_text', content: head(k) }, template: resolvedOnly(k) ? 'green' : 'red' },
            elements: [{ tag: 'div', text: { tag: 'lark_md', content } }],
          },
        });
      const build = (k: number, cut: boolean) => {
        const content = lines.slice(0, k).join('\n');
        if (!cut) return card(k, content);
        // Cut the content by what the rest of the body (and JSON escaping) leaves.
        const overhead = utf8Bytes(card(k, '')) + 64;
        return card(k, truncateUtf8(content, Math.max(0, SIZE_LIMITS.feishuBodyBytes - overhead)));
      };
      const { m, k } = largestFitting(all.length, build, (b) => utf8Bytes(b) <= SIZE_LIMITS.feishuBodyBytes);
      return { included: k, message: { kind: 'http', url: channel.url!, headers: { ...JSON_HEADERS }, body: m } };
    }
    case 'wecom': {
      let url = channel.url!;
      // The key is the secret: give it in the URL, or as `secret` beside the bare endpoint.
      if (channel.secret && !new URL(url).searchParams.has('key')) url = withQuery(url, `key=${encodeURIComponent(channel.secret)}`);
      const build = (k: number, cut: boolean) => {
        const content = markdown(head(k), lines.slice(0, k));
        return cut ? truncateUtf8(content, SIZE_LIMITS.wecomContentBytes) : content;
      };
      const { m, k } = largestFitting(all.length, build, (c) => utf8Bytes(c) <= SIZE_LIMITS.wecomContentBytes);
      return { included: k, message: { kind: 'http', url, headers: { ...JSON_HEADERS }, body: JSON.stringify({ msgtype: 'markdown', markdown: { content: m } }) } };
    }
    case 'email':
      return { included: all.length, message: { kind: 'mail', subject: head(all.length), text: plain(lines.join('\n')) } };
    case 'webhook': {
      const body = JSON.stringify({ title: head(all.length), text: markdown(head(all.length), lines), lang, alerts: all });
      const headers = channel.secret
        ? { ...signedHeaders(channel.secret, body, postId(all), now), 'user-agent': 'stockgate-channels/1' }
        : { ...JSON_HEADERS };
      return { included: all.length, message: { kind: 'http', url: channel.url!, headers, body } };
    }
  }
}
