import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ID_PATTERN } from '../../protocols/mqtt/index.js';
import { Errors } from '../errors.js';

/**
 * The HTTP door's input rules (issue 8 #8): hostile path, query and body values are refused with
 * a 400 naming the field BEFORE any store call, identically on SQLite and PostgreSQL (PostgreSQL
 * refuses NUL in text and integers >= 2^63 with errors that used to surface as 500s).
 *
 * - every path parameter and query value: valid percent-encoded UTF-8, no control character
 *   (C0, DEL), at most MAX_PARAM characters;
 * - every JSON body string and key: well-formed UTF-16 (no lone surrogate), no NUL and no control
 *   character other than tab, LF and CR; nesting at most MAX_DEPTH;
 * - then each route's zod schema (ids, cursors as safe integers, lengths).
 */
export const MAX_PARAM = 1024;
export const MAX_DEPTH = 32;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
// eslint-disable-next-line no-control-regex
const BODY_CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Is the string well-formed UTF-16 (so that it has a UTF-8 encoding; no lone surrogate)? */
export function wellFormed(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}

/** Why a string is not acceptable as a parameter, or undefined when it is. */
export function paramProblem(s: string): string | undefined {
  if (!wellFormed(s)) return 'not valid UTF-8';
  if (CONTROL.test(s)) return `control character U+${s.codePointAt(s.search(CONTROL))!.toString(16).padStart(4, '0').toUpperCase()}`;
  if (s.length > MAX_PARAM) return `longer than ${MAX_PARAM} characters`;
  return undefined;
}

/** A free-text field (no control characters, well-formed); use for ids, names, SKUs, locations. */
export const SafeText = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((s) => wellFormed(s) && !CONTROL.test(s), 'control characters and invalid UTF-8 are not allowed');

/** A site as the wire contract spells it (protocols/mqtt/topics.ts ID_PATTERN). */
export const SiteParam = z.string().regex(ID_PATTERN, '1-64 of [A-Za-z0-9._-], starting alphanumeric');

/** A numeric id or cursor: decimal digits only, 1 .. 2^53-1 (PostgreSQL bigint cannot hold 2^63). */
export const PositiveId = z
  .string()
  .regex(/^[1-9][0-9]{0,15}$/, 'expected a positive integer (decimal digits)')
  .transform(Number)
  .refine((n) => Number.isSafeInteger(n), 'larger than 2^53-1');

/** A cursor query parameter (`before=`): a positive safe integer. */
export const Cursor = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);

/** Marks a query value whose percent-encoding is not UTF-8 (the router cannot throw). */
const INVALID = Symbol('invalid percent-encoding');

/**
 * A path segment whose percent-escapes are not UTF-8 is replaced by this (U+FFFF, a noncharacter,
 * then text) before routing, so that the route still matches and the check below names the
 * parameter; fastify would otherwise answer for the whole URL without naming anything.
 */
const BAD_SEGMENT = '%EF%BF%BFinvalid-percent-encoding';
const BAD_SEGMENT_DECODED = '\uFFFFinvalid-percent-encoding';

/** Fastify `rewriteUrl`: marks path segments that do not decode (see BAD_SEGMENT). */
export function markBadSegments(url: string): string {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (!path.includes('%')) return url;
  const segs = path.split('/').map((seg) => {
    try {
      decodeURIComponent(seg);
      return seg;
    } catch {
      return BAD_SEGMENT;
    }
  });
  return segs.join('/') + (q < 0 ? '' : url.slice(q));
}

function strictDecode(s: string): string | typeof INVALID {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return INVALID;
  }
}

/**
 * Query-string parser: like the default, but a value whose percent-escapes are not UTF-8 becomes
 * a marker the onRequest check turns into a 400 naming the parameter (the default parser leaves
 * `%FF` in the value as text).
 */
export function parseQuery(qs: string): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  if (!qs) return out;
  for (const part of qs.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const k = strictDecode(eq < 0 ? part : part.slice(0, eq));
    const v = eq < 0 ? '' : strictDecode(part.slice(eq + 1));
    const key = k === INVALID ? '(a parameter name)' : k;
    const value = k === INVALID ? INVALID : v;
    const prev = out[key];
    out[key] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return out;
}

function checkParams(src: unknown, E: (m: string) => Error): void {
  if (!src || typeof src !== 'object') return;
  for (const [k, v] of Object.entries(src)) {
    const keyProblem = paramProblem(k);
    if (keyProblem) throw E(`parameter name: ${keyProblem}`);
    for (const one of Array.isArray(v) ? v : [v]) {
      if (one === INVALID || one === BAD_SEGMENT_DECODED) throw E(`${k}: invalid percent-encoding (not UTF-8)`);
      if (typeof one === 'string') {
        const p = paramProblem(one);
        if (p) throw E(`${k}: ${p}`);
      }
    }
  }
}

/** The first problem in a parsed JSON body, with its path (`movements.3.sku`), or undefined. */
export function bodyProblem(v: unknown, path: string[] = [], depth = 0): string | undefined {
  const at = () => path.join('.') || 'body';
  if (depth > MAX_DEPTH) return `${at()}: nested deeper than ${MAX_DEPTH}`;
  if (typeof v === 'string') {
    if (!wellFormed(v)) return `${at()}: not valid UTF-8 (lone surrogate)`;
    if (BODY_CONTROL.test(v)) return `${at()}: control character U+${v.codePointAt(v.search(BODY_CONTROL))!.toString(16).padStart(4, '0').toUpperCase()}`;
    return undefined;
  }
  if (typeof v === 'number') return Number.isFinite(v) ? undefined : `${at()}: not a finite number`;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const p = bodyProblem(v[i], [...path, String(i)], depth + 1);
      if (p) return p;
    }
    return undefined;
  }
  if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (!wellFormed(k) || BODY_CONTROL.test(k)) return `${at()}: a key has a control character or invalid UTF-8`;
      const p = bodyProblem(x, [...path, k], depth + 1);
      if (p) return p;
    }
  }
  return undefined;
}

/** An error body in the house shape. */
function send(reply: FastifyReply, status: number, code: string, error: string, message: string): FastifyReply {
  return reply.status(status).send({ statusCode: status, code, error, message });
}

/** Fastify's own errors (bad URL, bad JSON, too large, wrong media type) in the house shape. */
export function frameworkError(err: Error & { code?: string; statusCode?: number }, _req: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (err.code === 'FST_ERR_BAD_URL') return send(reply, 400, 'SG_ERR_BAD_PATH', 'Bad Request', 'path: invalid percent-encoding (not UTF-8)');
  return send(reply, err.statusCode ?? 400, 'SG_ERR_BAD_REQUEST', 'Bad Request', err.message);
}

/**
 * Maps a 4xx without an `SG_ERR_` code (fastify's body parser, content-type checks) to one of
 * ours; undefined when the error is not one of those.
 */
export function houseCode(err: Error & { code?: string; statusCode?: number }): { code: string; message: string } | undefined {
  const status = err.statusCode ?? 500;
  if (status >= 500 || err.code?.startsWith('SG_ERR_')) return undefined;
  if (status === 413) return { code: 'SG_ERR_BODY_TOO_LARGE', message: `body: ${err.message}` };
  if (status === 415) return { code: 'SG_ERR_UNSUPPORTED_MEDIA_TYPE', message: `content-type: ${err.message}` };
  return { code: 'SG_ERR_BAD_BODY', message: `body: ${err.message}` };
}

/** Installs the generic checks: path and query on every request, the body once parsed. */
export function installInputChecks(app: FastifyInstance): void {
  app.addHook('onRequest', async (req) => {
    checkParams(req.params, (m) => new Errors.BadPath(m));
    checkParams(req.query, (m) => new Errors.BadQuery(m));
  });
  app.addHook('preValidation', async (req) => {
    if (req.body === undefined || req.body === null) return;
    const p = bodyProblem(req.body);
    if (p) throw new Errors.BadBody(p);
  });
  app.setNotFoundHandler((req, reply) => send(reply, 404, 'SG_ERR_NOT_FOUND', 'Not Found', `path: no route ${req.method} ${req.url.split('?')[0]!.slice(0, 200)}`));
}
