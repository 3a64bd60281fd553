import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AlertStore } from '../alerts/alert-store.js';
import type { AlertEngine } from '../alerts/engine.js';
import type { Authenticator, Principal, Role } from '../auth/auth.js';
import type { CredentialStore } from '../auth/credential-store.js';
import type { BoardHub } from '../board/hub.js';
import type { Db } from '../db/index.js';
import type { FollowerHealth } from '../ledger-follower/index.js';
import { Errors } from '../errors.js';
import { SafeText } from './input.js';
import type { RouteScope } from './scope.js';
import type { Movement } from '../../protocols/mqtt/index.js';
import type { CommitBatchResult, Store } from '../store/store.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** Roles allowed on this route; absent = public. Admin is always allowed. */
    roles?: readonly Role[];
    /** Also accept the token as `?token=` (only for EventSource, which cannot send headers). */
    queryToken?: boolean;
  }
}

/** What route plugins get. Extend here, not with globals. */
export interface ApiDeps {
  store: Store;
  /** The cloud's one database: the business modules build their services on it. */
  db: Db;
  auth: Authenticator;
  hub: BoardHub;
  health: () => { mqtt: string; mqttHealthy: boolean; ingest: Record<string, number>; broker?: Record<string, number>; follower?: FollowerHealth; erp?: { erp: string; delivered: number; retried: number; failed: number; lastError?: string } };
  /** Tokens and MQTT users (authentication on); undefined with --insecure. */
  credentials?: CredentialStore;
  /** Close the live MQTT connections of a user whose credentials were revoked or rotated. */
  disconnectMqttUser?: (username: string) => void;
  /** Apply movements through the ingester's group commit (REST/ERP entry). */
  /** `postedBy`: the token that posted them (kept on each ledger row, issue 9). */
  submit: (movements: Movement[], postedBy?: { tokenId: string; user: string }) => Promise<CommitBatchResult>;
  /** Levels, alerts, webhooks and the delivery queue. */
  alertStore: AlertStore;
  /** Re-evaluates an item's alerts when its levels change. */
  alertEngine: Pick<AlertEngine, 'levelsChanged'>;
  /** Prometheus exposition for `GET /metrics` (cloud/metrics/); the route is absent without it. */
  metrics?: { contentType: string; text(): Promise<string> };
  /** `GET /metrics` needs a token (role maintenance or admin). */
  metricsToken?: boolean;
}

/** Roles that may read stock and movements. */
export const READ_ROLES: readonly Role[] = ['site-manager', 'operator', 'procurement', 'maintenance', 'finance'];

/** Roles allowed on admin-only routes (the hook always lets admin through). */
export const ADMIN_ONLY: readonly Role[] = [];

/** The board's login cookie (`POST /board/login`): HTTP-only, SameSite=Strict, holds an API token. */
export const BOARD_COOKIE = 'sg_board';
/** Header a write sent with the board cookie must carry (a foreign page cannot set it without CORS). */
export const BOARD_WRITE_HEADER = 'x-stockgate-board';

/**
 * The caller's credentials: the Authorization header; else `?token=` on routes that allow it
 * (EventSource cannot send headers); else the board's login cookie (issue 12) - for reads, and for
 * writes only with the `x-stockgate-board: 1` header, so a cross-site form cannot ride on it.
 */
export function authorization(req: FastifyRequest): string | undefined {
  if (req.headers.authorization !== undefined) return req.headers.authorization;
  if (req.routeOptions.config.queryToken) {
    const t = (req.query as Record<string, unknown> | undefined)?.token;
    if (typeof t === 'string' && t) return `Bearer ${t}`;
  }
  const c = (req as { cookies?: Record<string, string | undefined> }).cookies?.[BOARD_COOKIE];
  if (!c) return undefined;
  const read = req.method === 'GET' || req.method === 'HEAD';
  return read || req.headers[BOARD_WRITE_HEADER] === '1' ? `Bearer ${c}` : undefined;
}

/** Parse a query string with zod; a bad value is a 400 naming the parameter. */
export function query<T extends z.ZodType>(schema: T, req: FastifyRequest): z.infer<T> {
  const r = schema.safeParse(req.query);
  if (r.success) return r.data;
  const i = r.error.issues[0]!;
  throw new Errors.BadQuery(`${i.path.join('.') || 'query'}: ${i.message}`);
}

/** Parse a JSON body with zod; a bad value is a 400 naming the field. */
export function body<T extends z.ZodType>(schema: T, req: FastifyRequest): z.infer<T> {
  const r = schema.safeParse(req.body);
  if (r.success) return r.data;
  const i = r.error.issues[0]!;
  throw new Errors.BadBody(`${i.path.join('.') || 'body'}: ${i.message}`);
}

export const Limit = (max: number, def: number) => z.coerce.number().int().min(1).max(max).default(def);
/** A name-like value (SKU, location, alert id): 1-64 characters, no control characters. */
export const Id = SafeText(64);

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered, with its roles and scope (OpenAPI drift check, scope matrix). */
    stockgateRoutes: Array<{ method: string; url: string; roles?: readonly Role[]; scope?: RouteScope }>;
  }
}
