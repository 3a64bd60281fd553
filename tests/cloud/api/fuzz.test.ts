import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiCloud, type ApiCloud, type Backend, type CallResult } from '../../helpers/api-cloud.js';
import { uniqueId } from '../../helpers/procs.js';
import { EXAMPLES, seedSite, type SiteFixture } from '../../helpers/route-examples.js';

/**
 * The HTTP door under hostile input (issue 8 #8 and #12, finding 10), on SQLite AND the real
 * PostgreSQL. Every route fastify has (its valid example from tests/helpers/route-examples.ts) is
 * called with each path parameter, each query parameter (the example's and the documented ones)
 * and each body value replaced, one at a time, by every value of the hostile classes below. Never
 * a 500, never a hang (5 s), and every 400 names the field it refused, in the house error shape.
 */

/** Hostile values for a path segment or a query value, as they go on the wire (percent-encoded). */
const URL_VALUES: Array<[string, string]> = [
  ['NUL', '%00'],
  ['NUL inside', 'a%00b'],
  ['control SOH', '%01'],
  ['ANSI escape', '%1B%5B31m'],
  ['DEL', '%7F'],
  ['CR LF', '%0D%0A'],
  ['invalid UTF-8 FF', '%FF'],
  ['overlong UTF-8 NUL', '%C0%80'],
  ['truncated UTF-8', '%E2%82'],
  ['UTF-8 surrogate', '%ED%A0%80'],
  ['5-byte UTF-8', '%F8%88%80%80%80'],
  ['bad escape', '%G1'],
  ['lone percent', '%'],
  ['2^63', '9223372036854775808'],
  ['2^64', '18446744073709551616'],
  ['1e308', '1e308'],
  ['400 digits', `1${'0'.repeat(400)}`],
  ['negative', '-1'],
  ['zero', '0'],
  ['fraction', '1.5'],
  ['hex', '0x10'],
  ['NaN', 'NaN'],
  ['Infinity', 'Infinity'],
  ['empty', ''],
  ['65 chars', 'A'.repeat(65)],
  ['1025 chars', 'A'.repeat(1025)],
  ['8000 chars', 'A'.repeat(8000)],
  ['emoji', '%F0%9F%92%A9'],
  ['noncharacter', '%EF%BF%BF'],
  ['RTL override', '%E2%80%AE'],
  ['SQL', encodeURIComponent("x'; DROP TABLE ledger;--")],
  ['percent literal', '%25'],
];

/** Hostile JSON values for a body field. */
const BODY_VALUES: Array<[string, unknown]> = [
  ['NUL', '\u0000'],
  ['NUL inside', 'a\u0000b'],
  ['control SOH', '\u0001'],
  ['ANSI escape', '\u001b[31m'],
  ['DEL', '\u007f'],
  ['lone surrogate', '\ud800'],
  ['1e308', 1e308],
  ['-1e308', -1e308],
  ['2^63', 9223372036854775808],
  ['fraction', 1.5],
  ['negative', -1],
  ['zero', 0],
  ['denormal', 5e-324],
  ['65 chars', 'A'.repeat(65)],
  ['100k chars', 'A'.repeat(100_000)],
  ['empty string', ''],
  ['null', null],
  ['true', true],
  ['object', { a: 1 }],
  ['array', [1, 'x']],
  ['number string', '1'],
  ['deep array', JSON.parse('['.repeat(200) + ']'.repeat(200))],
];

/** Whole bodies that are not what any route takes. */
const RAW_BODIES: Array<[string, string | Buffer, string?]> = [
  ['not JSON', 'not json'],
  ['truncated JSON', '{"a":'],
  ['empty', ''],
  ['null', 'null'],
  ['array', '[]'],
  ['string', '"x"'],
  ['nested 10000 deep', '['.repeat(10_000) + ']'.repeat(10_000)],
  ['invalid UTF-8 bytes', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])],
  ['2 MiB', `{"a":"${'A'.repeat(2 * 1024 * 1024)}"}`],
  ['text/plain', '{}', 'text/plain'],
];

/** The field an error message names: the text before the first ': '. */
const fieldOf = (message: unknown) => (typeof message === 'string' && message.includes(': ') ? message.slice(0, message.indexOf(': ')) : undefined);

for (const backend of ['sqlite', 'postgres'] as Backend[]) {
  describe(`hostile input at the HTTP door (${backend})`, () => {
    let api: ApiCloud;
    let f: SiteFixture;
    let counter = 0;
    const n = () => ++counter;
    let failures: string[] = [];
    let calls = 0;

    /** Checks one answer; `field` is what a 400 must name (a path prefix relation for bodies). */
    const check = (what: string, res: CallResult, field?: { exact?: string; body?: string }) => {
      calls++;
      const tag = `${what} -> ${res.status} ${res.text.slice(0, 200)}`;
      if (res.status === 0) return void failures.push(`${tag} (hung)`);
      if (res.status >= 500) return void failures.push(`${tag} (5xx)`);
      if (res.status < 400) return;
      const b = res.body as Record<string, unknown> | undefined;
      if (!b || b.statusCode !== res.status || typeof b.code !== 'string' || !b.code.startsWith('SG_ERR_') || typeof b.error !== 'string' || typeof b.message !== 'string') {
        return void failures.push(`${tag} (not the house error shape)`);
      }
      if (res.status !== 400) return;
      const named = fieldOf(b.message);
      if (!named) return void failures.push(`${tag} (names no field)`);
      if (field?.exact !== undefined && named !== field.exact) failures.push(`${tag} (names ${named}, not ${field.exact})`);
      if (field?.body !== undefined && !(field.body.startsWith(named) || named.startsWith(field.body) || named === 'body')) failures.push(`${tag} (names ${named}, not ${field.body})`);
    };

    beforeAll(async () => {
      api = await startApiCloud(backend);
      f = await seedSite(api, uniqueId('fz'), n);
    }, 60_000);
    afterAll(async () => {
      console.log(`[fuzz ${backend}] ${calls} hostile requests over ${routes().length} routes`);
      await api?.stop();
    });

    const routes = () => api.cloud.http.stockgateRoutes.filter((r) => EXAMPLES[`${r.method} ${r.url}`]);

    it('path parameters', async () => {
      failures = [];
      for (const r of routes()) {
        const params = r.url.split('/').flatMap((s, i) => (s.startsWith(':') ? [[i, s.slice(1)] as const] : []));
        // One example per route (an example may create its resource first): the hostile value replaces it.
        const ex = params.length ? await EXAMPLES[`${r.method} ${r.url}`]!.req({ api, f, n }) : undefined;
        for (const [i, name] of params) {
          for (const [label, v] of URL_VALUES) {
            if (!ex) break;
            const [path, qs] = ex.path.split('?');
            const segs = path!.split('/');
            segs[i] = v;
            const res = await api.call(ex.method, segs.join('/') + (qs ? `?${qs}` : ''), { ...(ex.body === undefined ? {} : { body: ex.body }), ...(ex.headers ? { headers: ex.headers } : {}) });
            // An empty segment can route elsewhere (404); anything else that is refused names the parameter.
            check(`${ex.method} ${r.url} :${name}=${label}`, res, v === '' ? {} : { exact: name });
          }
        }
      }
      expect(calls).toBeGreaterThan(300);
      expect(failures).toEqual([]);
    }, 120_000);

    it('query parameters (the example\'s and the documented ones), and repeated or bracketed ones', async () => {
      failures = [];
      const doc = (await api.call('GET', '/docs/openapi.json')).body as { paths: Record<string, Record<string, { parameters?: Array<{ name: string; in: string }> }>> };
      for (const r of routes()) {
        const op = doc.paths[r.url.replace(/:([A-Za-z]+)/g, '{$1}')]?.[r.method];
        const documented = (op?.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
        const ex0 = await EXAMPLES[`${r.method} ${r.url}`]!.req({ api, f, n });
        const base = new URLSearchParams(ex0.path.split('?')[1] ?? '');
        const names = [...new Set([...base.keys(), ...documented, 'site'])];
        for (const name of names) {
          const variants: Array<[string, string]> = [
            ...URL_VALUES.map(([label, v]) => [label, `${name}=${v}`] as [string, string]),
            ['repeated', `${name}=a&${name}=b`],
            ['bracketed', `${name}[x]=1`],
          ];
          for (const [label, pair] of variants) {
            const ex = ex0;
            const [path, qs] = ex.path.split('?');
            const rest = [...new URLSearchParams(qs ?? '')].filter(([k]) => k !== name).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
            const res = await api.call(ex.method, `${path}?${[...rest, pair].join('&')}`, { ...(ex.body === undefined ? {} : { body: ex.body }), ...(ex.headers ? { headers: ex.headers } : {}) });
            // `name[x]` is another parameter (unknown ones are ignored); everything else refused names `name`.
            check(`${ex.method} ${r.url} ?${name}=${label}`, res, label === 'bracketed' ? {} : { exact: name });
          }
        }
      }
      expect(calls).toBeGreaterThan(500);
      expect(failures).toEqual([]);
    }, 180_000);

    it('body values: every field and sub-tree of each example body', async () => {
      failures = [];
      const nodes = (v: unknown, path: string[] = []): string[][] =>
        v && typeof v === 'object' ? [...(path.length ? [path] : []), ...Object.entries(v).flatMap(([k, x]) => nodes(x, [...path, k]))] : [path];
      const setAt = (v: unknown, path: string[], x: unknown): unknown => {
        if (!path.length) return x;
        const copy = (Array.isArray(v) ? [...v] : { ...(v as object) }) as Record<string, unknown>;
        copy[path[0]!] = setAt(copy[path[0]!], path.slice(1), x);
        return copy;
      };
      for (const r of routes()) {
        const ex0 = await EXAMPLES[`${r.method} ${r.url}`]!.req({ api, f, n });
        if (ex0.body === undefined) continue;
        for (const path of nodes(ex0.body)) {
          for (const [label, x] of BODY_VALUES) {
            const ex = ex0;
            const res = await api.call(ex.method, ex.path, { body: setAt(ex.body, path, x), ...(ex.headers ? { headers: ex.headers } : {}) });
            check(`${ex.method} ${r.url} ${path.join('.')}=${label}`, res, { body: path.join('.') });
          }
        }
      }
      expect(calls).toBeGreaterThan(300);
      expect(failures).toEqual([]);
    }, 180_000);

    it('whole bodies that are not JSON objects, too large, too deep, not UTF-8, or of another media type', async () => {
      failures = [];
      for (const r of routes()) {
        const ex = await EXAMPLES[`${r.method} ${r.url}`]!.req({ api, f, n });
        if (ex.method === 'GET') continue;
        for (const [label, raw, type] of RAW_BODIES) {
          const ac = new AbortController();
          const timer = setTimeout(() => ac.abort(), 5000);
          const res = await fetch(`${api.url}${ex.path}`, { method: ex.method, headers: { authorization: `Bearer ${api.admin}`, 'content-type': type ?? 'application/json' }, body: raw, signal: ac.signal })
            .then(async (x) => {
              const text = await x.text();
              let body: unknown;
              try {
                body = JSON.parse(text);
              } catch {
                body = undefined;
              }
              return { status: x.status, body, text, contentType: x.headers.get('content-type') ?? '' };
            })
            .catch(() => ({ status: 0, body: undefined, text: 'hung', contentType: '' }))
            .finally(() => clearTimeout(timer));
          check(`${ex.method} ${r.url} body ${label}`, res);
        }
      }
      expect(failures).toEqual([]);
    }, 120_000);

    it('finding 10: NUL and 2^63 in site/sku/location/id/cursor, a NUL resolution, and /board/events?site=%00 answer 400 at once', async () => {
      const cases: Array<[string, string, unknown?, string?]> = [
        ['GET', `/api/v1/stock?site=${f.site}&sku=%00`, undefined, 'sku'],
        ['GET', `/api/v1/stock?site=${f.site}&location=a%00`, undefined, 'location'],
        ['GET', '/api/v1/stock/totals?site=%00', undefined, 'site'],
        ['GET', `/api/v1/stock/fefo?site=${f.site}&sku=%00`, undefined, 'sku'],
        ['GET', '/api/v1/movements?before=9223372036854775808', undefined, 'before'],
        ['GET', '/api/v1/movements/%00', undefined, 'id'],
        ['GET', '/api/v1/dead-letters?before=9223372036854775808', undefined, 'before'],
        ['GET', '/api/v1/exceptions?before=%00', undefined, 'before'],
        ['POST', '/api/v1/exceptions/9223372036854775808/resolve', { resolution: 'x' }, 'id'],
        ['POST', `/api/v1/exceptions/${f.exceptionId}/resolve`, { resolution: 'found\u0000it' }, 'resolution'],
        ['GET', '/api/v1/alerts?before=%00', undefined, 'before'],
        ['POST', '/api/v1/alerts/%00/ack', undefined, 'id'],
        ['GET', `/api/v1/sites/${f.site}/items/%00/levels`, undefined, 'sku'],
        ['DELETE', '/api/v1/webhooks/%00', undefined, 'id'],
        ['GET', '/api/v1/webhooks/%00/deliveries', undefined, 'id'],
        ['DELETE', '/api/v1/tokens/%00', undefined, 'id'],
        ['DELETE', '/api/v1/mqtt-users/%00', undefined, 'username'],
        ['GET', '/board/events?site=%00', undefined, 'site'],
      ];
      for (const [method, path, body, field] of cases) {
        const res = await api.call(method, path, { ...(body === undefined ? {} : { body }), timeoutMs: 2000 });
        expect(res.status, `${method} ${path}: ${res.text}`).toBe(400);
        expect(fieldOf(res.body.message), `${method} ${path}: ${res.text}`).toBe(field);
        expect(res.body.code).toMatch(/^SG_ERR_BAD_(PATH|QUERY|BODY)$/);
      }
    });
  });
}
