/**
 * Procurement routes (issue 10 §0, §2, §3): suppliers, requisitions and their approval steps,
 * purchase orders (also from approved requisitions) with their approval, cancel and close. A
 * fastify plugin with zod schemas (`procurementDocs` keeps OpenAPI generated) and a scope
 * declaration on every route: a requisition or PO by id is a `scope.resource` (another site's or
 * another project's answers 404, as if it did not exist).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { type ApiDeps, body, query, READ_ROLES } from '../api/common.js';
import type { RouteDoc } from '../api/openapi.js';
import { bodySite, redactCost, scope } from '../api/scope.js';
import { actor as auditActor } from '../audit/index.js';
import type { Role } from '../auth/auth.js';
import { Errors } from '../errors.js';
import { ApproveBody, FromReqBody, ListQuery, PoBody, PoId, PoOut, poJson, RejectBody, ReqBody, ReqEditBody, ReqId, ReqOut, reqJson, SupplierBody, SupplierCode, SupplierOut, supplierJson } from './model.js';
import { procurementService } from './ports.js';
import type { PoView, ProcurementPorts, ReqView } from './service.js';

/** Who raises requisitions: site managers and procurement (project managers for their own projects, issue 10 §2). */
const REQ_WRITE: readonly Role[] = ['site-manager', 'procurement', 'project-manager'];
/** Who may be asked to decide a step (the engine then checks the step's role or the project's manager). */
const DECIDERS: readonly Role[] = ['site-manager', 'procurement', 'finance', 'project-manager'];
/** Readers: whoever reads stock, and project managers (their projects' documents only: the scope). */
const READERS: readonly Role[] = [...READ_ROLES, 'project-manager'];
/** Who buys. */
const PO_WRITE: readonly Role[] = ['procurement', 'site-manager'];
const SUPPLIER_WRITE: readonly Role[] = ['procurement'];

const List = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), next: z.string().nullable() });

export const procurementDocs: RouteDoc[] = [
  { method: 'put', path: '/api/v1/suppliers/:code', tag: 'procurement', summary: 'Create or replace a supplier (name, lead time in days)', roles: SUPPLIER_WRITE, body: SupplierBody, response: SupplierOut },
  { method: 'get', path: '/api/v1/suppliers', tag: 'procurement', summary: 'Suppliers by code (cursor: after=next)', roles: READ_ROLES, response: List(SupplierOut) },
  { method: 'get', path: '/api/v1/suppliers/:code', tag: 'procurement', summary: 'One supplier', roles: READ_ROLES, response: SupplierOut },
  { method: 'post', path: '/api/v1/purchase-orders', tag: 'procurement', summary: 'Create a draft purchase order', roles: PO_WRITE, body: PoBody, response: PoOut, status: 201 },
  { method: 'get', path: '/api/v1/purchase-orders', tag: 'procurement', summary: 'Purchase orders, newest first (filters site, status; cursor: before=next)', roles: READERS, query: ListQuery, response: List(PoOut) },
  { method: 'get', path: '/api/v1/purchase-orders/:id', tag: 'procurement', summary: 'One purchase order with each line’s received quantity and its approvals', roles: READERS, response: PoOut },
  { method: 'post', path: '/api/v1/purchase-orders/:id/submit', tag: 'procurement', summary: "Submit under the site's purchase-order bands; with no purchase-order rule for the site it is approved at once", roles: PO_WRITE, response: PoOut, errors: { 409: 'SG_ERR_ILLEGAL_TRANSITION', 422: 'SG_ERR_NO_APPROVAL_RULE' } },
  { method: 'post', path: '/api/v1/purchase-orders/:id/approve', tag: 'procurement', summary: 'Approve the step waiting for a decision', roles: DECIDERS, body: ApproveBody, response: PoOut, errors: { 403: 'SG_ERR_SELF_APPROVAL, SG_ERR_NOT_APPROVER', 409: 'SG_ERR_ILLEGAL_TRANSITION' } },
  { method: 'post', path: '/api/v1/purchase-orders/:id/reject', tag: 'procurement', summary: 'Reject at the step waiting for a decision', roles: DECIDERS, body: RejectBody, response: PoOut, errors: { 403: 'SG_ERR_SELF_APPROVAL, SG_ERR_NOT_APPROVER', 409: 'SG_ERR_ILLEGAL_TRANSITION' } },
  { method: 'post', path: '/api/v1/purchase-orders/:id/cancel', tag: 'procurement', summary: 'Cancel, while nothing was received', roles: PO_WRITE, response: PoOut, errors: { 409: 'SG_ERR_ILLEGAL_TRANSITION' } },
  { method: 'post', path: '/api/v1/purchase-orders/:id/close', tag: 'procurement', summary: 'Close after receipts (nothing more is expected)', roles: PO_WRITE, response: PoOut, errors: { 409: 'SG_ERR_ILLEGAL_TRANSITION' } },
];

/** The requisition routes (a requisition names a project of the projects module). */
export const requisitionDocs: RouteDoc[] = [
  {
    method: 'post',
    path: '/api/v1/requisitions',
    tag: 'procurement',
    summary: 'Create a draft requisition (purchase or issue) for a project stage; amount = Σ qty × (unitPrice, else last PO price, else moving-average cost, else standard cost)',
    roles: REQ_WRITE,
    body: ReqBody,
    response: ReqOut,
    status: 201,
    errors: { 422: 'SG_ERR_NO_PRICE: a line has no price anywhere' },
  },
  { method: 'get', path: '/api/v1/requisitions', tag: 'procurement', summary: 'Requisitions, newest first (filters site, project, status; cursor: before=next)', roles: READERS, query: ListQuery, response: List(ReqOut) },
  { method: 'get', path: '/api/v1/requisitions/:id', tag: 'procurement', summary: 'One requisition with its amount, revision and the approvals of that revision', roles: READERS, response: ReqOut },
  { method: 'put', path: '/api/v1/requisitions/:id', tag: 'procurement', summary: 'Edit the lines (and note); after submit this starts a new revision in draft and voids the approvals given', roles: REQ_WRITE, body: ReqEditBody, response: ReqOut, errors: { 409: 'SG_ERR_ILLEGAL_TRANSITION' } },
  { method: 'post', path: '/api/v1/requisitions/:id/submit', tag: 'procurement', summary: "Submit for approval under the site's requisition bands", roles: REQ_WRITE, response: ReqOut, errors: { 409: 'SG_ERR_ILLEGAL_TRANSITION', 422: 'SG_ERR_NO_APPROVAL_RULE' } },
  {
    method: 'post',
    path: '/api/v1/requisitions/:id/approve',
    tag: 'procurement',
    summary: "Approve the step waiting for a decision (steps in order; the project-manager step is the project's manager's; never the requester's)",
    roles: DECIDERS,
    body: ApproveBody,
    response: ReqOut,
    errors: { 403: 'SG_ERR_SELF_APPROVAL, SG_ERR_NOT_APPROVER', 409: 'SG_ERR_ILLEGAL_TRANSITION' },
  },
  { method: 'post', path: '/api/v1/requisitions/:id/reject', tag: 'procurement', summary: 'Reject at the step waiting for a decision (a comment is required)', roles: DECIDERS, body: RejectBody, response: ReqOut, errors: { 403: 'SG_ERR_SELF_APPROVAL, SG_ERR_NOT_APPROVER', 409: 'SG_ERR_ILLEGAL_TRANSITION' } },
  {
    method: 'post',
    path: '/api/v1/purchase-orders/from-requisitions',
    tag: 'procurement',
    summary: "A draft PO from approved purchase requisitions of one site: lines keep project, stage and requisition; each requisition is ordered once",
    roles: PO_WRITE,
    body: FromReqBody,
    response: PoOut,
    status: 201,
    errors: { 409: 'a requisition is not approved, or already ordered' },
  },
];

/** Who acts: the user of a user token (the approval chain and self-approval are about users), else the token. */
const by = (req: FastifyRequest) => auditActor(req.principal);
const actor = (req: FastifyRequest) => ({ user: by(req), roles: req.principal?.roles ?? [] });
/** Cost fields (amount, unitPrice) only for callers who may see this document's purchasing prices. */
const reqOut = (req: FastifyRequest, r: ReqView) => redactCost(reqJson(r), req.scope, { kind: 'purchasing', project: r.project });
const poOut = (req: FastifyRequest, p: PoView) => redactCost(poJson(p), req.scope, { kind: 'purchasing', project: p.project });
const cursor = (s: string | undefined, prefix: 'REQ' | 'PO') => {
  if (s === undefined) return undefined;
  const m = new RegExp(`^(?:${prefix}-)?([1-9][0-9]{0,14})$`, 'i').exec(s);
  if (!m) throw new Errors.BadQuery(`before: expected an id such as ${prefix}-12`);
  return Number(m[1]);
};

export async function procurementRoutes(app: FastifyInstance, deps: ApiDeps, ports: Partial<ProcurementPorts> = {}): Promise<void> {
  const svc = procurementService(deps.db, ports);
  const loadPo = (_d: ApiDeps, id: number) => svc.po(id);
  const poScope = () => scope.resource('purchase order', PoId, loadPo);
  const poIdOf = (req: FastifyRequest) => (req.resource as { id: number }).id;

  // ---- suppliers (not per-site data) ----
  app.put('/api/v1/suppliers/:code', { config: { roles: SUPPLIER_WRITE, scope: scope.shared() } }, async (req) => {
    const code = SupplierCode.safeParse((req.params as { code: string }).code);
    if (!code.success) throw new Errors.BadPath(`code: ${code.error.issues[0]!.message}`);
    return supplierJson(await svc.putSupplier(code.data, body(SupplierBody, req), by(req)));
  });
  app.get('/api/v1/suppliers', { config: { roles: READ_ROLES, scope: scope.shared() } }, async (req) => {
    const q = query(z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100), after: z.string().max(64).optional() }), req);
    const items = await svc.suppliers(q.limit, q.after);
    return { items: items.map(supplierJson), next: items.length === q.limit ? items[items.length - 1]!.code : null };
  });
  app.get('/api/v1/suppliers/:code', { config: { roles: READ_ROLES, scope: scope.shared() } }, async (req) => {
    const code = (req.params as { code: string }).code;
    const s = SupplierCode.safeParse(code).success ? await svc.supplier(code) : undefined;
    if (!s) throw new Errors.NotFound(`code: no supplier ${code}`);
    return supplierJson(s);
  });

  // ---- purchase orders ----
  app.post('/api/v1/purchase-orders', { config: { roles: PO_WRITE, scope: scope.body(bodySite) } }, async (req, reply) => {
    const b = body(PoBody, req);
    const lines = b.lines.map((l, i) => {
      const requisition = l.requisition === undefined ? undefined : ReqId.safeParse(String(l.requisition));
      if (requisition && !requisition.success) throw new Errors.BadBody(`lines.${i}.requisition: ${requisition.error.issues[0]!.message}`);
      return { sku: l.sku, qty: l.qty, unitPrice: l.unitPrice, ...(l.project !== undefined ? { project: l.project } : {}), ...(l.stage !== undefined ? { stage: l.stage } : {}), ...(requisition ? { requisition: requisition.data! } : {}) };
    });
    return reply.status(201).send(poOut(req, await svc.createPo({ supplier: b.supplier, site: b.site, expectedAt: b.expectedAt, lines }, by(req))));
  });
  app.get('/api/v1/purchase-orders', { config: { roles: READERS, scope: scope.query() } }, async (req) => {
    const q = query(ListQuery, req);
    const site = req.scope.site(q.site);
    const before = cursor(q.before, 'PO');
    const projects = req.scope.projectFilter();
    const items = await svc.pos({ limit: q.limit, ...(projects ? { projects } : {}), ...(site !== undefined ? { site } : {}), ...(q.status !== undefined ? { status: q.status } : {}), ...(before !== undefined ? { before } : {}) });
    return { items: items.map((p) => poOut(req, p)), next: items.length === q.limit ? `PO-${items[items.length - 1]!.id}` : null };
  });
  app.get('/api/v1/purchase-orders/:id', { config: { roles: READERS, scope: poScope() } }, async (req) => poOut(req, req.resource as PoView));
  app.post('/api/v1/purchase-orders/:id/submit', { config: { roles: PO_WRITE, scope: poScope() } }, async (req) => poOut(req, await svc.submitPo(poIdOf(req), by(req))));
  app.post('/api/v1/purchase-orders/:id/approve', { config: { roles: DECIDERS, scope: poScope() } }, async (req) => {
    const b = body(ApproveBody, req);
    return poOut(req, await svc.decidePo(poIdOf(req), actor(req), 'approve', b?.comment));
  });
  app.post('/api/v1/purchase-orders/:id/reject', { config: { roles: DECIDERS, scope: poScope() } }, async (req) => {
    const b = body(RejectBody, req);
    return poOut(req, await svc.decidePo(poIdOf(req), actor(req), 'reject', b.comment));
  });
  app.post('/api/v1/purchase-orders/:id/cancel', { config: { roles: PO_WRITE, scope: poScope() } }, async (req) => poOut(req, await svc.endPo(poIdOf(req), 'cancel', by(req))));
  app.post('/api/v1/purchase-orders/:id/close', { config: { roles: PO_WRITE, scope: poScope() } }, async (req) => poOut(req, await svc.endPo(poIdOf(req), 'close', by(req))));
}

export async function requisitionRoutes(app: FastifyInstance, deps: ApiDeps, ports: Partial<ProcurementPorts> = {}): Promise<void> {
  const svc = procurementService(deps.db, ports);
  const loadReq = (_d: ApiDeps, id: number) => svc.requisition(id);
  const reqScope = () => scope.resource('requisition', ReqId, loadReq);
  const reqIdOf = (req: FastifyRequest) => (req.resource as ReqView).id;

  // ---- requisitions ----
  // The site is the project's, found by the handler (the body names no site): a project outside a
  // project manager's projects is 404, one of another site 403 (as a named site would be).
  app.post('/api/v1/requisitions', { config: { roles: REQ_WRITE, scope: scope.body(() => []) } }, async (req, reply) => {
    const b = body(ReqBody, req);
    // The site is the project's: a caller who may not see it is told the project does not exist.
    const r = await svc.createRequisition({ kind: b.kind, project: b.project, stage: b.stage, lines: b.lines, ...(b.note !== undefined ? { note: b.note } : {}) }, by(req), (site, project) => {
      if (!req.scope.allowsProject(project)) return false;
      if (!req.scope.allows(site)) throw new Errors.Forbidden(`site: no access to ${site}`);
      return true;
    });
    return reply.status(201).send(reqOut(req, r));
  });
  app.get('/api/v1/requisitions', { config: { roles: READERS, scope: scope.query() } }, async (req) => {
    const q = query(ListQuery, req);
    const site = req.scope.site(q.site);
    const before = cursor(q.before, 'REQ');
    const projects = req.scope.projectFilter();
    const items = await svc.requisitions({ limit: q.limit, ...(projects ? { projects } : {}), ...(site !== undefined ? { site } : {}), ...(q.project !== undefined ? { project: q.project } : {}), ...(q.status !== undefined ? { status: q.status } : {}), ...(before !== undefined ? { before } : {}) });
    return { items: items.map((r) => reqOut(req, r)), next: items.length === q.limit ? `REQ-${items[items.length - 1]!.id}` : null };
  });
  app.get('/api/v1/requisitions/:id', { config: { roles: READERS, scope: reqScope() } }, async (req) => reqOut(req, req.resource as ReqView));
  app.put('/api/v1/requisitions/:id', { config: { roles: REQ_WRITE, scope: reqScope() } }, async (req) => {
    const b = body(ReqEditBody, req);
    return reqOut(req, await svc.editRequisition(reqIdOf(req), { lines: b.lines, ...(b.note !== undefined ? { note: b.note } : {}) }, by(req)));
  });
  app.post('/api/v1/requisitions/:id/submit', { config: { roles: REQ_WRITE, scope: reqScope() } }, async (req) => reqOut(req, await svc.submitRequisition(reqIdOf(req), by(req))));
  app.post('/api/v1/requisitions/:id/approve', { config: { roles: DECIDERS, scope: reqScope() } }, async (req) => {
    const b = body(ApproveBody, req);
    return reqOut(req, await svc.decideRequisition(reqIdOf(req), actor(req), 'approve', b?.comment));
  });
  app.post('/api/v1/requisitions/:id/reject', { config: { roles: DECIDERS, scope: reqScope() } }, async (req) => {
    const b = body(RejectBody, req);
    return reqOut(req, await svc.decideRequisition(reqIdOf(req), actor(req), 'reject', b.comment));
  });
  // The sites are the requisitions' (checked by the handler: another site's is 403).
  app.post('/api/v1/purchase-orders/from-requisitions', { config: { roles: PO_WRITE, scope: scope.body(() => []) } }, async (req, reply) => {
    const b = body(FromReqBody, req);
    const ids = b.requisitions.map((r, i) => {
      const p = ReqId.safeParse(String(r));
      if (!p.success) throw new Errors.BadBody(`requisitions.${i}: ${p.error.issues[0]!.message}`);
      return p.data;
    });
    // Requisitions the caller may not see are reported as missing, never as someone else's.
    const po = await svc.poFromRequisitions({ requisitions: ids, supplier: b.supplier, expectedAt: b.expectedAt }, by(req), (r) => {
      if (!req.scope.allowsProject(r.project)) return false;
      if (!req.scope.allows(r.site)) throw new Errors.Forbidden(`site: no access to ${r.site}`);
      return true;
    });
    return reply.status(201).send(poOut(req, po));
  });
}
