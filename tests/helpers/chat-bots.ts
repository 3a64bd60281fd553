/**
 * Local stand-ins for the DingTalk, Feishu/Lark and WeCom robots (their servers cannot run here).
 * Each is a real HTTP server on a free port that checks a request the way the service documents
 * it, written independently of cloud/channels/: it recomputes the signature from the raw request,
 * checks the body's shape and size, and answers HTTP 200 with the service's error code in the body
 * (310000 / 19021 / 93000 for a bad signature or key, like the real ones). A script can override
 * the answer per request (throttling, outages).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export type BotKind = 'dingtalk' | 'feishu' | 'wecom' | 'webhook';

export interface BotRequest {
  n: number;
  path: string;
  /** The raw query string (the DingTalk sign is compared as sent, percent-encoding included). */
  rawQuery: string;
  headers: IncomingHttpHeaders;
  raw: Buffer;
  body: unknown;
  /** Why the emulator refused it; undefined when the request conforms. */
  problem?: string;
  /** The signing timestamp, ms (DingTalk: the query; Feishu: the body, seconds x 1000; webhook: the header). */
  ts?: number;
  /** The markdown / card / text content carried. */
  text?: string;
}

/** A scripted answer: HTTP status and JSON body; `undefined` = the service's normal answer. */
export type Answer = { status: number; body: unknown } | 'hang' | undefined;

export interface Bot {
  url: string;
  got: BotRequest[];
  /** Requests that conformed (and were answered with success unless scripted otherwise). */
  ok(): BotRequest[];
  close(): Promise<void>;
}

const SUCCESS: Record<BotKind, unknown> = {
  dingtalk: { errcode: 0, errmsg: 'ok' },
  feishu: { code: 0, msg: 'success', data: {} },
  wecom: { errcode: 0, errmsg: 'ok' },
  webhook: {},
};

const same = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

function check(kind: BotKind, secret: string | undefined, r: BotRequest): { problem?: string; refuse?: unknown } {
  const b = r.body as Record<string, any>;
  if (typeof b !== 'object' || b === null) return { problem: 'body is not a JSON object' };
  const q = new URLSearchParams(r.rawQuery);
  switch (kind) {
    case 'dingtalk': {
      if (q.get('access_token') !== 'TOKEN') return { problem: 'access_token', refuse: { errcode: 300001, errmsg: 'token is not exist' } };
      if (secret !== undefined) {
        const ts = q.get('timestamp') ?? '';
        // The sign as it appears in the URL: urlencode(base64(HMAC-SHA256(secret, ts + "\n" + secret))).
        const rawSign = /(?:^|&)sign=([^&]*)/.exec(r.rawQuery)?.[1] ?? '';
        const want = encodeURIComponent(createHmac('sha256', secret).update(`${ts}\n${secret}`).digest('base64'));
        r.ts = Number(ts);
        if (!/^\d{13}$/.test(ts) || !same(rawSign, want)) return { problem: 'sign', refuse: { errcode: 310000, errmsg: 'sign not match' } };
      }
      if (b.msgtype === 'markdown') {
        if (typeof b.markdown?.title !== 'string' || typeof b.markdown?.text !== 'string') return { problem: 'markdown.title/text' };
        r.text = b.markdown.text;
      } else if (b.msgtype === 'actionCard') {
        const c = b.actionCard ?? {};
        if (![c.title, c.text, c.singleTitle, c.singleURL].every((x) => typeof x === 'string')) return { problem: 'actionCard.title/text/singleTitle/singleURL' };
        r.text = c.text;
      } else return { problem: `msgtype ${b.msgtype}`, refuse: { errcode: 40035, errmsg: 'invalid msgtype' } };
      return {};
    }
    case 'feishu': {
      if (r.raw.length > 20 * 1024) return { problem: 'body over 20 KB', refuse: { code: 9499, msg: 'request body too large' } };
      if (secret !== undefined) {
        // timestamp (seconds, a string) and sign = base64(HMAC-SHA256(key = ts + "\n" + secret, message = "")) in the body.
        if (typeof b.timestamp !== 'string' || !/^\d{10}$/.test(b.timestamp)) return { problem: 'timestamp', refuse: { code: 19021, msg: 'sign match fail or timestamp is not within one hour from current time' } };
        const want = createHmac('sha256', `${b.timestamp}\n${secret}`).update('').digest('base64');
        r.ts = Number(b.timestamp) * 1000;
        if (typeof b.sign !== 'string' || !same(b.sign, want)) return { problem: 'sign', refuse: { code: 19021, msg: 'sign match fail or timestamp is not within one hour from current time' } };
      }
      if (b.msg_type !== 'interactive') return { problem: `msg_type ${b.msg_type}` };
      const h = b.card?.header;
      if (h?.title?.tag !== 'plain_text' || typeof h.title.content !== 'string' || typeof h.template !== 'string') return { problem: 'card.header' };
      const el = b.card?.elements?.[0];
      if (el?.tag !== 'div' || el.text?.tag !== 'lark_md' || typeof el.text.content !== 'string') return { problem: 'card.elements[0]' };
      r.text = el.text.content;
      return {};
    }
    case 'wecom': {
      if (q.get('key') !== secret) return { problem: 'key', refuse: { errcode: 93000, errmsg: 'invalid webhook url' } };
      if (b.msgtype !== 'markdown' || typeof b.markdown?.content !== 'string') return { problem: 'markdown.content' };
      if (Buffer.byteLength(b.markdown.content, 'utf8') > 4096) return { problem: 'content over 4096 bytes', refuse: { errcode: 40058, errmsg: 'markdown.content exceed max length 4096' } };
      r.text = b.markdown.content;
      return {};
    }
    case 'webhook': {
      if (secret !== undefined) {
        const ts = String(r.headers['x-stockgate-timestamp']);
        const want = `sha256=${createHmac('sha256', secret).update(`${ts}.${r.raw.toString('utf8')}`).digest('hex')}`;
        r.ts = Number(ts) * 1000;
        if (!same(String(r.headers['x-stockgate-signature']), want)) return { problem: 'signature', refuse: 'unauthorized' };
      }
      if (typeof b.text !== 'string' || !Array.isArray(b.alerts)) return { problem: 'text/alerts' };
      r.text = b.text;
      return {};
    }
  }
}

/** Start a robot emulator. `script(req)` may override the answer (after the checks ran). */
export async function startBot(kind: BotKind, secret: string | undefined, script: (r: BotRequest) => Answer = () => undefined): Promise<Bot> {
  const got: BotRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const [path, rawQuery = ''] = (req.url ?? '').split('?') as [string, string?];
      const r: BotRequest = { n: got.length + 1, path, rawQuery, headers: req.headers, raw, body: undefined };
      try {
        r.body = JSON.parse(raw.toString('utf8'));
      } catch {
        r.problem = 'body is not JSON';
      }
      let refuse: unknown;
      if (!r.problem) {
        // A robot decodes UTF-8 strictly: a cut multi-byte character would not round-trip.
        if (Buffer.compare(Buffer.from(raw.toString('utf8'), 'utf8'), raw) !== 0) r.problem = 'invalid UTF-8';
        else ({ problem: r.problem, refuse } = check(kind, secret, r));
      }
      got.push(r);
      const scripted = script(r);
      if (scripted === 'hang') return;
      if (scripted) return void res.writeHead(scripted.status, { 'content-type': 'application/json' }).end(JSON.stringify(scripted.body));
      if (r.problem) {
        if (refuse === 'unauthorized') return void res.writeHead(401).end();
        // The chat services answer 200 with the code in the body even for refusals.
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(refuse ?? (kind === 'feishu' ? { code: 9499, msg: r.problem } : { errcode: 40000, errmsg: r.problem })));
      }
      res.writeHead(kind === 'webhook' ? 204 : 200, { 'content-type': 'application/json' }).end(kind === 'webhook' ? undefined : JSON.stringify(SUCCESS[kind]));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const path = { dingtalk: '/robot/send?access_token=TOKEN', feishu: '/open-apis/bot/v2/hook/HOOK', wecom: '/cgi-bin/webhook/send', webhook: '/hooks/alerts' }[kind];
  return {
    url: `http://127.0.0.1:${port}${path}`,
    got,
    ok: () => got.filter((r) => !r.problem),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
