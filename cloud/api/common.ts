import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Authenticator, Principal, Role } from '../auth/auth.js';
import type { BoardHub } from '../board/hub.js';
import { Errors } from '../errors.js';
import type { Store } from '../store/store.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** Roles allowed on this route; absent = public. Admin is always allowed. */
    roles?: readonly Role[];
  }
}

/** What route plugins get. Extend here, not with globals. */
export interface ApiDeps {
  store: Store;
  auth: Authenticator;
  hub: BoardHub;
  health: () => { mqtt: string; mqttHealthy: boolean; ingest: Record<string, number> };
}

/** Roles that may read stock and movements. */
export const READ_ROLES: readonly Role[] = ['site-manager', 'operator', 'procurement', 'maintenance', 'finance'];

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
export const Id = z.string().min(1).max(64);

/**
 * The site a request may look at: the asked one if the principal may see it; for a principal
 * limited to one site, that site by default.
 */
export function scopedSite(req: FastifyRequest, s: string | undefined): string | undefined {
  const allowed = req.principal?.sites;
  if (allowed && s !== undefined && !allowed.includes(s)) throw new Errors.Forbidden(`site: no access to ${s}`);
  if (allowed && s === undefined && allowed.length !== 1) throw new Errors.BadQuery('site: required for this token');
  return s ?? allowed?.[0];
}
