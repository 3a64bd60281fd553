/**
 * Pure channel rules: which alerts a channel gets, how fast each service may be posted to, and
 * what a service's answer means (all three chat robots answer HTTP 200 with an error code in the
 * body, so the body decides). Numbers from docs/ (shared reference: "Alert channels").
 */
import { backoffMs } from '../alerts/webhooks.js';
import type { ChannelRoutes, ChannelType, RouteKey } from './model.js';

/** A route matches when the type is listed, and the site / project is listed when those are given. */
export function routeMatches(routes: ChannelRoutes, key: RouteKey): boolean {
  if (!(routes.types as readonly string[]).includes(key.type)) return false;
  if (routes.sites && !routes.sites.includes(key.site)) return false;
  // A project filter asks for that project's alerts only: an alert without a project is not one.
  if (routes.projects && (key.project === undefined || !routes.projects.includes(key.project))) return false;
  // A user filter asks for alerts addressed to that user: an alert addressed to nobody is not one.
  if (routes.users && !(key.users ?? []).some((u) => routes.users!.includes(u))) return false;
  return true;
}

/** At most `max` posts in any rolling window of `windowMs`. */
export interface RateLimit {
  max: number;
  windowMs: number;
}

/**
 * Each service's documented rate. DingTalk blocks a robot for 10 min above 20 a minute; Feishu
 * allows 5 a second and 100 a minute; WeCom 20 a minute. Email and webhooks have no documented
 * limit: one a second keeps a burst in digests instead of a mail storm.
 */
export const RATE_LIMITS: Record<ChannelType, readonly RateLimit[]> = {
  dingtalk: [{ max: 20, windowMs: 60_000 }],
  feishu: [
    { max: 5, windowMs: 1000 },
    { max: 100, windowMs: 60_000 },
  ],
  wecom: [{ max: 20, windowMs: 60_000 }],
  email: [{ max: 60, windowMs: 60_000 }],
  webhook: [{ max: 60, windowMs: 60_000 }],
};

/** The longest window of a type: how far back post times must be kept. */
export function longestWindowMs(type: ChannelType): number {
  return Math.max(...RATE_LIMITS[type].map((l) => l.windowMs));
}

/**
 * The token bucket. Each of `max` tokens comes back `windowMs` after it was spent (a sliding log),
 * not continuously: a classic bucket of 20 refilled at 20/min lets a full bucket plus its refill
 * through in one rolling minute - 39 posts - and DingTalk blocks the robot above 20. `posts` are
 * the times (ms) of earlier posts, any order. Returns when the next post may go: `now` if at once.
 *
 * Pacing: once half of a window's tokens are spent, posts are spaced `windowMs / max` apart (3 s
 * for DingTalk). Without it a burst spends all 20 tokens in its first seconds, one alert each, and
 * everything after waits the rest of the minute; with it the later alerts of the burst go out
 * every few seconds, merged into digests.
 */
export function nextPostAt(limits: readonly RateLimit[], posts: readonly number[], now: number): number {
  let at = now;
  for (const l of limits) {
    const inWindow = posts.filter((t) => t > now - l.windowMs).sort((a, b) => b - a);
    // Full window: wait until the oldest of the newest `max` posts leaves it.
    if (inWindow.length >= l.max) at = Math.max(at, inWindow[l.max - 1]! + l.windowMs);
    else if (inWindow.length >= Math.ceil(l.max / 2)) at = Math.max(at, inWindow[0]! + l.windowMs / l.max);
  }
  return at;
}

/** What an answer (or its absence) means for the deliveries in the post. */
export type Verdict =
  | { kind: 'ok' }
  /** Retry with backoff for as long as it takes (throttling, 5xx, network). `minDelayMs`: a floor. */
  | { kind: 'retry'; code: string; error: string; minDelayMs?: number }
  /** Retrying cannot help (signature, keyword, IP, invalid URL): mark failed. */
  | { kind: 'fail'; code: string; error: string }
  /** Not documented as either: retried up to the attempt limit, then failed. */
  | { kind: 'unknown'; code: string; error: string };

/** DingTalk `130101` "send too fast": the robot is blocked, so the first retry waits a minute. */
export const DINGTALK_THROTTLE_DELAY_MS = 60_000;

const RETRY_CODES: Record<'dingtalk' | 'feishu' | 'wecom', Record<number, number | undefined>> = {
  dingtalk: { 130101: DINGTALK_THROTTLE_DELAY_MS },
  feishu: { 11232: undefined },
  wecom: { 45009: undefined },
};
const FAIL_CODES: Record<'dingtalk' | 'feishu' | 'wecom', readonly number[]> = {
  // 310000: bad sign, timestamp, keyword or IP.
  dingtalk: [310000],
  // 19021 sign/timestamp, 19022 IP, 19024 keyword.
  feishu: [19021, 19022, 19024],
  // 93000: invalid webhook URL (key).
  wecom: [93000],
};

/** Read the service's error code and message from a 2xx body. */
function bodyCode(type: 'dingtalk' | 'feishu' | 'wecom', text: string): { code: number; msg: string } | undefined {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof j !== 'object' || j === null) return undefined;
  const o = j as Record<string, unknown>;
  if (type === 'feishu') {
    // The v2 hook answers {code, msg}; older deployments {StatusCode, StatusMessage}.
    const code = typeof o.code === 'number' ? o.code : typeof o.StatusCode === 'number' ? o.StatusCode : undefined;
    return code === undefined ? undefined : { code, msg: String(o.msg ?? o.StatusMessage ?? '') };
  }
  return typeof o.errcode === 'number' ? { code: o.errcode, msg: String(o.errmsg ?? '') } : undefined;
}

/** The verdict on an HTTP answer: status first, then (chat robots) the body's error code. */
export function classifyResponse(type: ChannelType, status: number, text: string): Verdict {
  if (status >= 500 || status === 429 || status === 408) return { kind: 'retry', code: `HTTP_${status}`, error: `HTTP ${status}` };
  // 404 / 400 from a robot's endpoint: a wrong URL or token, which no retry fixes.
  if (status < 200 || status > 299) return { kind: 'fail', code: `HTTP_${status}`, error: `HTTP ${status}` };
  if (type === 'webhook' || type === 'email') return { kind: 'ok' };
  const b = bodyCode(type, text);
  if (!b) return { kind: 'unknown', code: 'BAD_RESPONSE', error: `HTTP ${status} with no error code in the body: ${text.slice(0, 200)}` };
  if (b.code === 0) return { kind: 'ok' };
  const code = String(b.code);
  const error = `${code} ${b.msg}`.trim();
  if (b.code in RETRY_CODES[type]) {
    const min = RETRY_CODES[type][b.code];
    return min === undefined ? { kind: 'retry', code, error } : { kind: 'retry', code, error, minDelayMs: min };
  }
  if (FAIL_CODES[type].includes(b.code)) return { kind: 'fail', code, error };
  return { kind: 'unknown', code, error };
}

/** A request that got no answer: connection refused, reset, DNS, timeout. Always retried. */
export function classifyNetworkError(err: Error): Verdict {
  if (err.name === 'TimeoutError') return { kind: 'retry', code: 'TIMEOUT', error: err.message };
  // fetch wraps the socket error: "fetch failed" with `cause: {code: 'ECONNREFUSED', ...}`.
  const cause = err.cause as { code?: unknown; message?: unknown } | undefined;
  const own = (err as { code?: unknown }).code;
  const code = typeof cause?.code === 'string' ? cause.code : typeof own === 'string' ? own : 'NETWORK';
  return { kind: 'retry', code, error: typeof cause?.message === 'string' ? `${err.message}: ${cause.message}` : err.message };
}

/** SMTP: 4xx replies and connection errors are transient (RFC 5321 4.2.1); 5xx replies are permanent. */
export function classifySmtpError(err: Error & { code?: string; responseCode?: number }): Verdict {
  const rc = err.responseCode;
  if (rc !== undefined && rc >= 500) return { kind: 'fail', code: `SMTP_${rc}`, error: err.message };
  if (rc !== undefined) return { kind: 'retry', code: `SMTP_${rc}`, error: err.message };
  // nodemailer's EAUTH without a reply code is a refused login: permanent until reconfigured.
  if (err.code === 'EAUTH') return { kind: 'fail', code: 'EAUTH', error: err.message };
  return { kind: 'retry', code: err.code ?? 'NETWORK', error: err.message };
}

export interface RetryPolicy {
  /** First retry delay, ms (doubled per attempt). Default 1000. */
  baseMs: number;
  /** Longest delay, ms. Default 300000 (5 min). */
  capMs: number;
  /** Attempts before an `unknown` answer gives up. Default 20. */
  maxUnknownAttempts: number;
}

/**
 * When to try again after `attempts` failed attempts (this one included), or null to mark failed.
 * Retryable answers are retried for as long as it takes: an alert is never dropped for throttling
 * or an outage.
 */
export function retryAt(v: Exclude<Verdict, { kind: 'ok' }>, attempts: number, at: number, p: RetryPolicy): number | null {
  if (v.kind === 'fail') return null;
  if (v.kind === 'unknown' && attempts >= p.maxUnknownAttempts) return null;
  const delay = Math.max(backoffMs(attempts, p.baseMs, p.capMs), v.kind === 'retry' ? (v.minDelayMs ?? 0) : 0);
  return at + delay;
}
