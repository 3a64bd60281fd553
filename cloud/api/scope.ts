import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import type { Principal, Role } from '../auth/auth.js';
import { Errors } from '../errors.js';
import type { ApiDeps } from './common.js';
import { SiteParam } from './input.js';

/**
 * Where a cost field comes from, to decide who may see it (issue 10 §5): admin and finance see
 * every one; procurement sees purchasing prices (PO and requisition prices, supplier and standard
 * costs); the project's own manager sees its project's (revenue, budget, costs, margin, and the
 * prices of documents for that project). Everyone else gets the fields omitted.
 */
export type CostContext =
  /** Prices of purchasing documents and the item master's standard cost; `project` when the document is for one. */
  | { kind: 'purchasing'; project?: string | null }
  /** A project's figures: contract revenue, budget, costs, margin. */
  | { kind: 'project'; project: string }
  /** Stock valuation: average costs, stock value. */
  | { kind: 'inventory' };

/**
 * Every price or money field (issue 10 §5): omitted, not zeroed, for callers who may not see them.
 * The list, plus the other money fields of business answers: a cost report stage's
 * `plannedValue` and `actualMaterial`, a landed cost's `toStock` (its `pending` and `variance` go
 * through `LANDED_COST_FIELDS`: those names mean quantities elsewhere).
 */
export const COST_FIELDS: ReadonlySet<string> = new Set([
  'unitPrice', 'unitCost', 'averageCost', 'standardCost', 'value', 'amount', 'cost', 'margin', 'marginPct', 'contractRevenue', 'budget',
  'plannedValue', 'actualMaterial', 'toStock',
]);

/** The money fields of a landed-cost split (`pending`, `variance` are amounts there only): pass to `redactCost` for those answers. */
export const LANDED_COST_FIELDS: ReadonlySet<string> = new Set(['pending', 'variance']);

/** Roles that see every cost field. */
const COST_ROLES: ReadonlySet<Role> = new Set(['admin', 'finance']);

/**
 * What a caller may see, derived once per request from its principal (issue 8 #5) and handed to
 * every query: sites, projects (issue 10 §5) and cost fields, as fields of this one object, never
 * as per-route checks. The request hook (api/server.ts) computes the projects once (the user's
 * list + the projects it manages, cloud/access/).
 */
export class Scope {
  private constructor(
    /** Sites the caller may see; undefined = every site. */
    readonly sites: ReadonlySet<string> | undefined,
    /**
     * Projects the caller may see; undefined = every project of its sites. Set for a caller whose
     * only role is project-manager: the projects it manages plus those its user lists.
     */
    readonly projects: ReadonlySet<string> | undefined,
    /** Projects whose cost fields the caller sees as their manager (managed or listed). */
    private readonly managed: ReadonlySet<string>,
    private readonly roles: ReadonlySet<Role>,
    /** The user id behind the token, when it was issued for a user. */
    readonly user: string | undefined,
  ) {}

  /**
   * `managed`: the projects of a caller holding project-manager (managed by its user + listed on
   * it); ignored for other callers.
   */
  static of(p: Principal | undefined, managed: Iterable<string> = []): Scope {
    const roles = new Set<Role>(p?.roles ?? []);
    const pm = roles.has('project-manager');
    const mine = new Set(pm ? managed : []);
    const onlyPm = pm && [...roles].every((r) => r === 'project-manager');
    return new Scope(p?.sites ? new Set(p.sites) : p ? undefined : new Set(), onlyPm ? mine : undefined, mine, roles, p?.user);
  }

  /** Sees no site at all (public routes, before authentication). */
  static none(): Scope {
    return new Scope(new Set(), new Set(), new Set(), new Set(), undefined);
  }

  /** Every site (admin tokens without `sites`, `--insecure`). */
  get unrestricted(): boolean {
    return this.sites === undefined;
  }

  /** May the caller see data of this site? Data that names no site: unrestricted callers only. */
  allows(site: string | undefined | null): boolean {
    if (this.sites === undefined) return true;
    return typeof site === 'string' && this.sites.has(site);
  }

  /**
   * May the caller see this project (at this site)? A project-scoped caller: only its projects;
   * anyone else: any project of its sites. Out of scope answers 404 (nothing leaks that it exists).
   */
  allowsProject(project: string | undefined | null, site?: string | null): boolean {
    if (site !== undefined && !this.allows(site)) return false;
    if (this.projects === undefined) return true;
    return typeof project === 'string' && this.projects.has(project);
  }

  /** The project filter of a list query: undefined = any project (of the caller's sites), else these. */
  projectFilter(): string[] | undefined {
    return this.projects === undefined ? undefined : [...this.projects].sort();
  }

  /** Is the caller the manager (or listed on) this project? Approval steps of `project-manager` use it. */
  manages(project: string | undefined | null): boolean {
    return typeof project === 'string' && this.managed.has(project);
  }

  /** Does the caller hold this role (admin holds every one)? */
  has(role: Role): boolean {
    return this.roles.has('admin') || this.roles.has(role);
  }

  /** May the caller see the cost fields of this context? (`redactCost` omits them otherwise.) */
  seesCost(ctx: CostContext): boolean {
    for (const r of this.roles) if (COST_ROLES.has(r)) return true;
    if (ctx.kind === 'purchasing' && this.roles.has('procurement')) return true;
    if (ctx.kind !== 'inventory' && typeof ctx.project === 'string' && this.managed.has(ctx.project)) return true;
    return false;
  }

  /**
   * The site filter of a list query: the asked site (403 if outside the scope), else the caller's
   * only site, else undefined = all sites (unrestricted callers only; a caller limited to several
   * sites must name one).
   */
  site(asked: string | undefined): string | undefined {
    if (asked !== undefined) {
      if (!this.allows(asked)) throw new Errors.Forbidden(`site: no access to ${asked}`);
      return asked;
    }
    if (this.sites === undefined) return undefined;
    if (this.sites.size === 1) return [...this.sites][0];
    throw new Errors.BadQuery('site: required for this token (it covers several sites)');
  }

  /**
   * The sites a stream or a multi-site view shows: the asked one (403 outside the scope), else
   * every site of the scope, else undefined = all sites (unrestricted callers).
   */
  sitesFor(asked: string | undefined): string[] | undefined {
    if (asked !== undefined) return [this.site(asked)!];
    return this.sites === undefined ? undefined : [...this.sites].sort();
  }

  /** Does this scope still cover what a stream was opened for (these sites, or all = undefined)? */
  covers(sites: readonly string[] | undefined): boolean {
    return sites === undefined ? this.unrestricted : sites.every((s) => this.allows(s));
  }

  /** Keep the rows the caller may see (for small lists filtered in memory: webhooks, MQTT users). */
  filter<T>(rows: readonly T[], siteOf: (r: T) => string | undefined | null): T[] {
    return this.sites === undefined ? [...rows] : rows.filter((r) => this.allows(siteOf(r)));
  }
}

/**
 * `value` without the cost fields (`COST_FIELDS`, at any depth) when the caller may not see the
 * cost of `ctx`; `value` itself when it may. Omitted, never zeroed (issue 10 §5): a zero would
 * read as a real price. `ctx` may be a function of each element when `value` is an array whose
 * elements belong to different projects.
 */
export function redactCost<T>(value: T, scope: Scope, ctx: CostContext | ((item: any) => CostContext), extra?: ReadonlySet<string>): T {
  if (Array.isArray(value) && typeof ctx === 'function') return value.map((v) => redactCost(v, scope, ctx(v), extra)) as T;
  const c = typeof ctx === 'function' ? ctx(value) : ctx;
  return scope.seesCost(c) ? value : (omitCost(value, extra) as T);
}

function omitCost(v: unknown, extra: ReadonlySet<string> | undefined): unknown {
  if (Array.isArray(v)) return v.map((x) => omitCost(x, extra));
  if (v === null || typeof v !== 'object' || v instanceof Date) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (!COST_FIELDS.has(k) && !extra?.has(k)) out[k] = omitCost(x, extra);
  return out;
}

/**
 * A route's scope declaration (`config.scope`), REQUIRED on every route: the framework refuses to
 * register a route without one, and tests/cloud/api/scope-matrix.test.ts exercises each route for
 * every role on the caller's own and another site. Pick with the `scope.*` helpers below.
 */
export type RouteScope =
  /** No token, and no per-site data (health, docs, the board's static files). */
  | { kind: 'public' }
  /** Not tied to one site (API tokens): callers limited to sites get 403. */
  | { kind: 'global' }
  /** Not per-site data (e.g. the item master): any caller holding a route role. */
  | { kind: 'shared' }
  /**
   * A list or a read/write of the sites the request names: `?site=` (query), `:site` (path) or
   * the sites in the body. The framework validates each (400 naming `site`) and answers 403 for a
   * site outside the scope before the handler runs; the handler passes `req.scope` (e.g.
   * `req.scope.site(q.site)`) to the store so that unnamed sites are filtered too.
   */
  | { kind: 'sites'; from: 'query' | 'path' }
  | { kind: 'sites'; from: 'body'; sitesOf: (body: unknown) => Array<string | null> }
  /**
   * One stored thing addressed by `:id` (or another path parameter): the framework validates the
   * parameter, loads the thing and answers 404 when it is missing OR outside the scope (its site;
   * its `project`, when the loader returns one, for a project manager: nothing leaks that it
   * exists); the handler finds it in `req.resource`.
   */
  | {
      kind: 'resource';
      resource: string;
      param: string;
      id: z.ZodType;
      load: (deps: ApiDeps, id: never) => Promise<{ site?: string | null; project?: string | null } | undefined>;
    };

/** Constructors for `config.scope`. */
export const scope = {
  public: (): RouteScope => ({ kind: 'public' }),
  global: (): RouteScope => ({ kind: 'global' }),
  shared: (): RouteScope => ({ kind: 'shared' }),
  query: (): RouteScope => ({ kind: 'sites', from: 'query' }),
  path: (): RouteScope => ({ kind: 'sites', from: 'path' }),
  /** `sitesOf` returns the sites the (unvalidated) body names; `null` = "all sites" (unrestricted only). */
  body: (sitesOf: (body: unknown) => Array<string | null>): RouteScope => ({ kind: 'sites', from: 'body', sitesOf }),
  resource: <S extends z.ZodType>(
    resource: string,
    id: S,
    load: (deps: ApiDeps, id: z.infer<S>) => Promise<{ site?: string | null; project?: string | null } | undefined>,
    param = 'id',
  ): RouteScope => ({ kind: 'resource', resource, param, id, load: load as (deps: ApiDeps, id: never) => Promise<{ site?: string | null; project?: string | null } | undefined> }),
};

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's scope, computed once in onRequest (unrestricted on public routes). */
    scope: Scope;
    /** The thing a `scope.resource` route addresses, loaded and scope-checked by the framework. */
    resource?: unknown;
  }
  interface FastifyContextConfig {
    /** Required on every route: see `RouteScope`. */
    scope?: RouteScope;
  }
}

/** `body.site` when it is present (`null` = none: all sites). For bodies with one `site` field. */
export const bodySite = (b: unknown): Array<string | null> => {
  const s = (b as { site?: unknown } | null)?.site;
  return [typeof s === 'string' ? s : null];
};

/**
 * Installs the scope framework: refuses routes without a declaration, and checks the declared
 * sites and resources before any handler runs (after authentication, which sets `req.principal`).
 */
export function installScope(app: FastifyInstance, deps: ApiDeps): void {
  app.decorateRequest('scope', undefined as unknown as Scope);
  app.decorateRequest('resource', undefined);

  app.addHook('onRoute', (r) => {
    const s = r.config?.scope;
    const where = `${([] as string[]).concat(r.method).join(',')} ${r.url}`;
    if (!s) throw new Error(`${where}: no scope declaration; add config.scope (scope.query(), scope.resource(...), ...: cloud/README.md#scope)`);
    if ((s.kind === 'public') !== (r.config?.roles === undefined)) {
      throw new Error(`${where}: scope ${s.kind} ${s.kind === 'public' ? 'must not declare' : 'needs'} config.roles`);
    }
  });

  app.addHook('preHandler', async (req) => {
    const decl = req.routeOptions.config.scope!;
    const sc = req.scope;
    switch (decl.kind) {
      case 'public':
      case 'shared':
        return;
      case 'global':
        if (!sc.unrestricted) throw new Errors.Forbidden('scope: needs a token that is not limited to sites');
        return;
      case 'sites': {
        if (decl.from === 'body') {
          for (const s of decl.sitesOf(req.body)) {
            if (s === null) {
              if (!sc.unrestricted) throw new Errors.Forbidden('site: required for a token limited to sites');
              continue;
            }
            // Unvalidated values are left to the handler's schema (400 naming the field).
            if (!SiteParam.safeParse(s).success) continue;
            if (!sc.allows(s)) throw new Errors.Forbidden(`site: no access to ${s}`);
          }
          return;
        }
        const src = (decl.from === 'query' ? req.query : req.params) as Record<string, unknown> | undefined;
        const raw = src?.site;
        if (raw === undefined && decl.from === 'query') return;
        const r = SiteParam.safeParse(raw);
        if (!r.success) {
          const E = decl.from === 'query' ? Errors.BadQuery : Errors.BadPath;
          throw new E(`site: ${r.error.issues[0]!.message}`);
        }
        if (!sc.allows(r.data)) throw new Errors.Forbidden(`site: no access to ${r.data}`);
        return;
      }
      case 'resource': {
        const raw = (req.params as Record<string, unknown>)[decl.param];
        const r = decl.id.safeParse(raw);
        if (!r.success) throw new Errors.BadPath(`${decl.param}: ${r.error.issues[0]!.message}`);
        const thing = await decl.load(deps, r.data as never);
        // A resource of a project (`project` set by the loader) is also out of scope for a
        // project manager who is not on that project: 404, as for another site's (issue 10 §5).
        const project = (thing as { project?: string | null } | undefined)?.project;
        if (!thing || !sc.allows(thing.site) || (project !== undefined && !sc.allowsProject(project))) throw new Errors.NotFound(`${decl.param}: no ${decl.resource} ${String(raw)}`);
        req.resource = thing;
        return;
      }
    }
  });
}
