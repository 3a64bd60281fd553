/**
 * Procurement (issue 10 §2-3): suppliers, requisitions through the approval engine, purchase
 * orders, and the receipt -> PO line match the ledger follower runs. The service is the only place
 * a transaction opens (`db.tx`); every change is audited in the same transaction.
 *
 * Concurrency: every status change is a conditional update on (id, revision, status) and every
 * approval decision one on (document, revision, step, pending) (cloud/approvals/engine.ts), so
 * two concurrent approvals of one step make one transition and the other answers 409.
 *
 * Why one file (over 400 lines): the service is the one place procurement transactions open
 * (requisitions, orders, receipts, approvals), all on the same conditional-update concurrency
 * rule above; the pure rules are in rules.ts and the queries in repo.ts.
 */
import type { Kysely, Transaction } from 'kysely';
import { type Actor, type Approval, ApprovalError, type ApprovalSubject, approvalsOf, decideApproval, submitForApproval, voidEarlierApprovals } from '../approvals/index.js';
import type { Db } from '../db/index.js';
import { Money, roundFen } from '../money.js';
import { ReceivingBook } from './receiving.js';
import * as repo from './repo.js';
import { amountOf, parseDocId, poId, poId as poIdOf, type PoStatus, pickPrice, poAllows, reqId } from './rules.js';

type Tx = Transaction<any>;
type Q = Tx | Kysely<any>;

export type ProcurementErrorCode = 'SG_ERR_NOT_FOUND' | 'SG_ERR_BAD_BODY' | 'SG_ERR_ILLEGAL_TRANSITION' | 'SG_ERR_CONFLICT' | 'SG_ERR_NO_PRICE';

/** A refusal with the HTTP status the routes answer with; `details` go beside the four fields. */
export class ProcurementError extends Error {
  constructor(
    readonly code: ProcurementErrorCode,
    readonly statusCode: number,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** A project as procurement needs it (from cloud/projects). */
export interface ProjectRef {
  code: string;
  site: string;
  manager: string;
  stages: readonly string[];
}

/** What procurement reads from and tells the other business modules (wired in index.ts through their index.ts). */
export interface ProcurementPorts {
  project(q: Q, code: string): Promise<ProjectRef | undefined>;
  /** The item master's standard cost, fen per base unit; undefined when the item has none; null when the SKU is unknown. */
  standardCost(q: Q, sku: string): Promise<number | undefined | null>;
  /** The moving-average cost at a site, fen per base unit, exact (cloud/costing); undefined before its first receipt. */
  averageCost(tx: Tx, site: string, sku: string): Promise<string | undefined>;
  audit(tx: Tx, e: { entity: 'supplier' | 'requisition' | 'purchase-order'; id: string; action: string; by: string; before: unknown; after: unknown; site?: string | null; project?: string | null }): Promise<void>;
  /** Reserve an approved issue requisition's lines for its project stage (cloud/sales reservations). */
  reserve(tx: Tx, r: { ownerId: string; site: string; lines: Array<{ line: number; sku: string; qty: number; project: string; stage: string }>; by: string }): Promise<void>;
  /** An issue scanned against a requisition consumes its reservation; returns what was consumed. */
  consume(tx: Tx, ownerId: string, site: string, sku: string, qty: number): Promise<number>;
  /** Raise business exceptions in the exception queue (OVER_RECEIPT, NO_PO_RECEIPT), many in one insert. */
  raise(tx: Tx, es: readonly ReceiptException[]): Promise<void>;
  /**
   * A purchase order became `approved` (its last step approved, or submit approved it at once):
   * called in that transaction, so the ERP outbound queue (cloud/erp, issue 11 §5) holds the PO
   * exactly when the approval committed.
   */
  poApproved(tx: Tx, po: PoView): Promise<void>;
}

/** An exception of a receipt, raised by the receiving consumer. */
export interface ReceiptException {
  type: 'OVER_RECEIPT' | 'NO_PO_RECEIPT';
  site: string;
  movementId: string;
  sku: string;
  location: string;
  batch: string;
  project: string;
  message: string;
}

export interface ReqLineInput {
  sku: string;
  /** Thousandths of the base unit. */
  qty: number;
  /** Fen per base unit. */
  unitPrice?: number;
}

export interface ReqInput {
  kind: 'purchase' | 'issue';
  project: string;
  stage: string;
  lines: ReqLineInput[];
  note?: string;
}

/** A PO line as posted: the stored row without its line number and received quantity. */
export type PoLineInput = Omit<repo.PoLineRow, 'line' | 'received'>;

export interface PoInput {
  supplier: string;
  site: string;
  expectedAt: string;
  lines: PoLineInput[];
}

export interface ReqView extends repo.ReqRow {
  approvals: Approval[];
}
export interface PoView extends repo.PoRow {
  approvals: Approval[];
  /** The project its lines are for (the first, by code), or null: the PO's project for scope and cost visibility. */
  project: string | null;
}

/** A PO's project: the first (by code) of its lines' projects, or null when none has one. */
export function projectOfPo(p: repo.PoRow): string | null {
  return [...new Set(p.lines.map((l) => l.project).filter((x): x is string => x !== undefined))].sort()[0] ?? null;
}

const now = () => new Date().toISOString();
const conflict = (what: string) => new ApprovalError('SG_ERR_ILLEGAL_TRANSITION', 409, `${what} changed meanwhile; read it again`);

export class ProcurementService {
  constructor(
    readonly db: Db,
    private readonly ports: ProcurementPorts,
  ) {}

  // ---- suppliers ----

  async putSupplier(code: string, s: { name: string; leadTimeDays: number }, by: string): Promise<repo.SupplierRow> {
    return this.db.tx(async (tx) => {
      const before = await repo.supplier(tx, code);
      const row = { code, name: s.name, leadTimeDays: s.leadTimeDays, updatedAt: now() };
      await repo.putSupplier(tx, row);
      await this.ports.audit(tx, { entity: 'supplier', id: code, action: before ? 'update' : 'create', by, before: before ?? null, after: row });
      return row;
    });
  }

  supplier(code: string): Promise<repo.SupplierRow | undefined> {
    return repo.supplier(this.db.kysely, code);
  }

  suppliers(limit: number, after?: string): Promise<repo.SupplierRow[]> {
    return repo.suppliers(this.db.kysely, limit, after);
  }

  // ---- requisitions ----

  /** The project of a requisition body, checked: it exists and has the stage. */
  private async projectOf(q: Q, code: string, stage: string, visible: (site: string, project: string) => boolean): Promise<ProjectRef> {
    const p = await this.ports.project(q, code);
    // Missing and out of the caller's scope look the same (nothing leaks that it exists).
    if (!p || !visible(p.site, p.code)) throw new ProcurementError('SG_ERR_NOT_FOUND', 404, `project: no project ${code}`);
    if (!p.stages.includes(stage)) throw new ProcurementError('SG_ERR_BAD_BODY', 400, `stage: project ${code} has no stage ${stage}`);
    return p;
  }

  /** Price each line: unitPrice, else last PO price, else moving average, else standard cost; 422 when none exists. */
  private async price(tx: Tx, site: string, lines: readonly ReqLineInput[]): Promise<{ lines: repo.ReqLineRow[]; amount: number }> {
    const out: repo.ReqLineRow[] = [];
    for (const [i, l] of lines.entries()) {
      let picked = pickPrice(l.unitPrice !== undefined ? { unitPrice: l.unitPrice } : {});
      if (!picked) {
        const std = await this.ports.standardCost(tx, l.sku);
        if (std === null) throw new ProcurementError('SG_ERR_BAD_BODY', 400, `lines.${i}.sku: ${l.sku} is not in the item master`);
        const lastPo = await repo.lastPoPrice(tx, l.sku);
        const average = lastPo === undefined ? await this.ports.averageCost(tx, site, l.sku) : undefined;
        picked = pickPrice({ ...(lastPo !== undefined ? { lastPo } : {}), ...(average !== undefined ? { average } : {}), ...(std !== undefined ? { standard: std } : {}) });
      }
      if (!picked) {
        throw new ProcurementError('SG_ERR_NO_PRICE', 422, `lines.${i}.unitPrice: ${l.sku} has no PO price, moving-average cost or standard cost; give unitPrice`);
      }
      out.push({ line: i + 1, sku: l.sku, qty: l.qty, ...(l.unitPrice !== undefined ? { unitPrice: l.unitPrice } : {}), price: picked.price, priceSource: picked.source });
    }
    return { lines: out, amount: amountOf(out) };
  }

  /** `visible`: may the caller see the project's site? A project outside it is reported as missing. */
  async createRequisition(input: ReqInput, by: string, visible: (site: string, project: string) => boolean = () => true): Promise<ReqView> {
    return this.db.tx(async (tx) => {
      const p = await this.projectOf(tx, input.project, input.stage, visible);
      const priced = await this.price(tx, p.site, input.lines);
      const t = now();
      const id = await repo.insertRequisition(tx, {
        kind: input.kind,
        project: p.code,
        stage: input.stage,
        site: p.site,
        status: 'draft',
        amount: priced.amount,
        revision: 1,
        requester: by,
        ...(input.note !== undefined ? { note: input.note } : {}),
        createdAt: t,
        updatedAt: t,
      });
      await repo.replaceReqLines(tx, id, priced.lines);
      const after = (await this.reqView(tx, id))!;
      await this.ports.audit(tx, { entity: 'requisition', id: reqId(id), site: after.site, project: after.project, action: 'create', by, before: null, after });
      return after;
    });
  }

  /**
   * An edit (lines, note). A draft stays at its revision; after submit (pending or rejected) it
   * starts a new revision in draft and the earlier approvals are voided (issue 10 §2).
   */
  async editRequisition(id: number, input: { lines: ReqLineInput[]; note?: string }, by: string): Promise<ReqView> {
    return this.db.tx(async (tx) => {
      const before = await this.reqView(tx, id);
      if (!before) throw new ProcurementError('SG_ERR_NOT_FOUND', 404, `id: no requisition ${id}`);
      if (before.status !== 'draft' && before.status !== 'pending' && before.status !== 'rejected') {
        throw new ApprovalError('SG_ERR_ILLEGAL_TRANSITION', 409, `cannot edit a requisition that is ${before.status}`);
      }
      const priced = await this.price(tx, before.site, input.lines);
      const revision = before.status === 'draft' ? before.revision : before.revision + 1;
      const ok = await repo.updateRequisition(tx, id, before, { status: 'draft', amount: priced.amount, revision, note: input.note ?? null, updatedAt: now() });
      if (!ok) throw conflict(`requisition ${id}`);
      await repo.replaceReqLines(tx, id, priced.lines);
      if (revision !== before.revision) await voidEarlierApprovals(tx, 'requisition', String(id), revision);
      const after = (await this.reqView(tx, id))!;
      await this.ports.audit(tx, { entity: 'requisition', id: reqId(id), site: after.site, project: after.project, action: revision !== before.revision ? 'revise' : 'edit', by, before, after });
      return after;
    });
  }

  private subject(r: repo.ReqRow, manager: string | undefined): ApprovalSubject {
    return { docType: 'requisition', docId: String(r.id), site: r.site, revision: r.revision, status: r.status, requester: r.requester, ...(manager !== undefined ? { projectManager: manager } : {}), amount: r.amount };
  }

  async submitRequisition(id: number, by: string): Promise<ReqView> {
    return this.db.tx(async (tx) => {
      const before = await this.reqView(tx, id);
      if (!before) throw new ProcurementError('SG_ERR_NOT_FOUND', 404, `id: no requisition ${id}`);
      const p = await this.ports.project(tx, before.project);
      const st = await submitForApproval(tx, this.subject(before, p?.manager));
      if (!(await repo.updateRequisition(tx, id, before, { status: st.status, updatedAt: now() }))) throw conflict(`requisition ${id}`);
      const after = (await this.reqView(tx, id))!;
      await this.ports.audit(tx, { entity: 'requisition', id: reqId(id), site: after.site, project: after.project, action: 'submit', by, before, after });
      return after;
    });
  }

  async decideRequisition(id: number, actor: Actor, action: 'approve' | 'reject', comment?: string): Promise<ReqView> {
    return this.db.tx(async (tx) => {
      const before = await this.reqView(tx, id);
      if (!before) throw new ProcurementError('SG_ERR_NOT_FOUND', 404, `id: no requisition ${id}`);
      const p = await this.ports.project(tx, before.project);
      const st = await decideApproval(tx, this.subject(before, p?.manager), actor, action, now(), comment);
      if (st.status !== before.status && !(await repo.updateRequisition(tx, id, before, { status: st.status, updatedAt: now() }))) throw conflict(`requisition ${id}`);
      if (st.status === 'approved' && before.kind === 'issue') {
        // An approved issue requisition reserves stock for its project stage (issue 10 §2).
        await this.ports.reserve(tx, { ownerId: String(id), site: before.site, by: actor.user, lines: before.lines.map((l) => ({ line: l.line, sku: l.sku, qty: l.qty, project: before.project, stage: before.stage })) });
      }
      const after = (await this.reqView(tx, id))!;
      await this.ports.audit(tx, { entity: 'requisition', id: reqId(id), site: after.site, project: after.project, action: `${action} step ${st.decided.step} (${st.decided.role})`, by: actor.user, before, after });
      return after;
    });
  }

  private async reqView(q: Q, id: number): Promise<ReqView | undefined> {
    const r = await repo.requisition(q, id);
    if (!r) return undefined;
    return { ...r, approvals: await approvalsOf(q, 'requisition', String(id), r.revision) };
  }

  requisition(id: number): Promise<ReqView | undefined> {
    return this.reqView(this.db.kysely, id);
  }

  async requisitions(f: Parameters<typeof repo.requisitions>[1]): Promise<ReqView[]> {
    const rows = await repo.requisitions(this.db.kysely, f);
    return Promise.all(rows.map(async (r) => ({ ...r, approvals: await approvalsOf(this.db.kysely, 'requisition', String(r.id), r.revision) })));
  }

  // ---- purchase orders ----

  private async checkPoLines(q: Q, input: PoInput): Promise<void> {
    if (!(await repo.supplier(q, input.supplier))) throw new ProcurementError('SG_ERR_BAD_BODY', 400, `supplier: no supplier ${input.supplier} (PUT /api/v1/suppliers/${input.supplier})`);
    for (const [i, l] of input.lines.entries()) {
      if ((await this.ports.standardCost(q, l.sku)) === null) throw new ProcurementError('SG_ERR_BAD_BODY', 400, `lines.${i}.sku: ${l.sku} is not in the item master`);
      if (l.project !== undefined) {
        const p = await this.ports.project(q, l.project);
        if (!p) throw new ProcurementError('SG_ERR_BAD_BODY', 400, `lines.${i}.project: no project ${l.project}`);
        if (p.site !== input.site) throw new ProcurementError('SG_ERR_BAD_BODY', 400, `lines.${i}.project: ${l.project} is at site ${p.site}, not ${input.site}`);
        if (l.stage !== undefined && !p.stages.includes(l.stage)) throw new ProcurementError('SG_ERR_BAD_BODY', 400, `lines.${i}.stage: project ${l.project} has no stage ${l.stage}`);
      }
    }
  }

  private async insertPo(tx: Tx, input: PoInput, by: string, action: string): Promise<PoView> {
    const t = now();
    const lines = input.lines.map((l, i) => ({ line: i + 1, sku: l.sku, qty: l.qty, unitPrice: l.unitPrice, ...(l.project !== undefined ? { project: l.project } : {}), ...(l.stage !== undefined ? { stage: l.stage } : {}), ...(l.requisition !== undefined ? { requisition: l.requisition } : {}), received: 0 }));
    const amount = amountOf(lines.map((l) => ({ qty: l.qty, price: String(l.unitPrice) })));
    const id = await repo.insertPo(tx, { supplier: input.supplier, site: input.site, expectedAt: input.expectedAt, status: 'draft', amount, revision: 1, requester: by, createdAt: t, updatedAt: t, lines });
    const after = (await this.poView(tx, id))!;
    await this.ports.audit(tx, { entity: 'purchase-order', id: poId(id), site: after.site, project: after.project, action, by, before: null, after });
    return after;
  }

  async createPo(input: PoInput, by: string): Promise<PoView> {
    return this.db.tx(async (tx) => {
      await this.checkPoLines(tx, input);
      return this.insertPo(tx, input, by, 'create');
    });
  }

  /**
   * A PO from approved purchase requisitions (issue 10 §3): the site is theirs (one site), each
   * requisition line becomes a PO line keeping project, stage and requisition, priced at the
   * line's price. A requisition is ordered once (409 otherwise).
   */
  async poFromRequisitions(input: { requisitions: number[]; supplier: string; expectedAt: string }, by: string, visible: (r: repo.ReqRow) => boolean): Promise<PoView> {
    return this.db.tx(async (tx) => {
      const reqs: repo.ReqRow[] = [];
      for (const [i, id] of input.requisitions.entries()) {
        const r = await repo.requisition(tx, id);
        if (!r || !visible(r)) throw new ProcurementError('SG_ERR_BAD_BODY', 400, `requisitions.${i}: no requisition ${id}`);
        if (r.kind !== 'purchase') throw new ProcurementError('SG_ERR_BAD_BODY', 400, `requisitions.${i}: requisition ${id} is an issue requisition, not a purchase`);
        if (r.status !== 'approved') throw new ApprovalError('SG_ERR_ILLEGAL_TRANSITION', 409, `requisitions.${i}: requisition ${id} is ${r.status}, not approved`);
        if (r.po !== undefined) throw new ProcurementError('SG_ERR_CONFLICT', 409, `requisitions.${i}: requisition ${id} is already on PO-${r.po}`);
        reqs.push(r);
      }
      const sites = [...new Set(reqs.map((r) => r.site))];
      if (sites.length !== 1) throw new ProcurementError('SG_ERR_BAD_BODY', 400, `requisitions: they belong to several sites (${sites.join(', ')}); one PO is for one site`);
      const lines: PoLineInput[] = reqs.flatMap((r) => r.lines.map((l) => ({ sku: l.sku, qty: l.qty, unitPrice: l.unitPrice ?? roundFen(new Money(l.price)), project: r.project, stage: r.stage, requisition: r.id })));
      const po = { supplier: input.supplier, site: sites[0]!, expectedAt: input.expectedAt, lines };
      await this.checkPoLines(tx, po);
      const view = await this.insertPo(tx, po, by, `create from requisitions ${reqs.map((r) => r.id).join(', ')}`);
      for (const r of reqs) {
        if (!(await repo.markOrdered(tx, r.id, view.id, now()))) throw new ProcurementError('SG_ERR_CONFLICT', 409, `requisitions: requisition ${r.id} was ordered meanwhile`);
        await this.ports.audit(tx, { entity: 'requisition', id: reqId(r.id), site: r.site, project: r.project, action: `ordered on PO-${view.id}`, by, before: { po: null }, after: { po: view.id } });
      }
      return view;
    });
  }

  private poSubject(p: repo.PoRow, manager: string | undefined): ApprovalSubject {
    const status = p.status === 'draft' || p.status === 'pending' || p.status === 'rejected' ? p.status : 'approved';
    return { docType: 'purchase-order', docId: String(p.id), site: p.site, revision: p.revision, status, requester: p.requester, amount: p.amount, ...(manager !== undefined ? { projectManager: manager } : {}) };
  }

  /** A PO whose lines are all for one project: that project's manager decides a project-manager step. */
  private async poManager(q: Q, p: repo.PoRow): Promise<string | undefined> {
    const projects = [...new Set(p.lines.map((l) => l.project).filter((x): x is string => x !== undefined))];
    if (projects.length !== 1) return undefined;
    return (await this.ports.project(q, projects[0]!))?.manager;
  }

  async submitPo(id: number, by: string): Promise<PoView> {
    return this.db.tx(async (tx) => {
      const before = await this.poView(tx, id);
      if (!before) throw new ProcurementError('SG_ERR_NOT_FOUND', 404, `id: no purchase order ${id}`);
      if (!poAllows(before.status, 'submit')) throw new ApprovalError('SG_ERR_ILLEGAL_TRANSITION', 409, `cannot submit a purchase order that is ${before.status}`);
      // With no purchase-order rule for the site, submit approves at once (issue 10 §3).
      const st = await submitForApproval(tx, this.poSubject(before, await this.poManager(tx, before)), { approveWithoutRules: true });
      if (!(await repo.updatePo(tx, id, before, { status: st.status, updatedAt: now() }))) throw conflict(`purchase order ${id}`);
      const after = (await this.poView(tx, id))!;
      await this.ports.audit(tx, { entity: 'purchase-order', id: poId(id), site: after.site, project: after.project, action: st.status === 'approved' && st.approvals.length === 0 ? 'submit (no rule: approved)' : 'submit', by, before, after });
      if (after.status === 'approved') await this.ports.poApproved(tx, after);
      return after;
    });
  }

  async decidePo(id: number, actor: Actor, action: 'approve' | 'reject', comment?: string): Promise<PoView> {
    return this.db.tx(async (tx) => {
      const before = await this.poView(tx, id);
      if (!before) throw new ProcurementError('SG_ERR_NOT_FOUND', 404, `id: no purchase order ${id}`);
      if (before.status !== 'pending') throw new ApprovalError('SG_ERR_ILLEGAL_TRANSITION', 409, `cannot ${action} a purchase order that is ${before.status}`);
      const st = await decideApproval(tx, this.poSubject(before, await this.poManager(tx, before)), actor, action, now(), comment);
      if (st.status !== before.status && !(await repo.updatePo(tx, id, before, { status: st.status, updatedAt: now() }))) throw conflict(`purchase order ${id}`);
      const after = (await this.poView(tx, id))!;
      await this.ports.audit(tx, { entity: 'purchase-order', id: poId(id), site: after.site, project: after.project, action: `${action} step ${st.decided.step} (${st.decided.role})`, by: actor.user, before, after });
      if (after.status === 'approved') await this.ports.poApproved(tx, after);
      return after;
    });
  }

  /** Cancel (while nothing was received) or close (after receipts). */
  async endPo(id: number, action: 'cancel' | 'close', by: string): Promise<PoView> {
    return this.db.tx(async (tx) => {
      const before = await this.poView(tx, id);
      if (!before) throw new ProcurementError('SG_ERR_NOT_FOUND', 404, `id: no purchase order ${id}`);
      if (!poAllows(before.status, action) || (action === 'cancel' && before.lines.some((l) => l.received > 0))) {
        throw new ApprovalError('SG_ERR_ILLEGAL_TRANSITION', 409, `cannot ${action} a purchase order that is ${before.status}${action === 'cancel' ? ' (cancel only while nothing was received)' : ''}`);
      }
      const status: PoStatus = action === 'cancel' ? 'cancelled' : 'closed';
      if (!(await repo.updatePo(tx, id, before, { status, updatedAt: now() }))) throw conflict(`purchase order ${id}`);
      const after = (await this.poView(tx, id))!;
      await this.ports.audit(tx, { entity: 'purchase-order', id: poId(id), site: after.site, project: after.project, action, by, before, after });
      return after;
    });
  }

  private async poView(q: Q, id: number): Promise<PoView | undefined> {
    const p = await repo.po(q, id);
    if (!p) return undefined;
    return { ...p, project: projectOfPo(p), approvals: await approvalsOf(q, 'purchase-order', String(id), p.revision) };
  }

  po(id: number): Promise<PoView | undefined> {
    return this.poView(this.db.kysely, id);
  }

  async pos(f: Parameters<typeof repo.pos>[1]): Promise<PoView[]> {
    const rows = await repo.pos(this.db.kysely, f);
    return Promise.all(rows.map(async (p) => ({ ...p, project: projectOfPo(p), approvals: await approvalsOf(this.db.kysely, 'purchase-order', String(p.id), p.revision) })));
  }

  // ---- the ledger follower's part ----

  /**
   * Receipts -> PO lines, inside the follower's transaction (issue 10 §3): each applied receive
   * matches the open lines of its site and SKU, earliest `expectedAt` first (only the pinned PO
   * when it carries `po`); the lines' received quantities and the PO status follow; a receipt
   * beyond ordered + 2% raises OVER_RECEIPT (the stock is still recorded). Issues carrying `req`
   * consume that requisition's reservation.
   */
  async applyLedger(tx: Tx, rows: readonly LedgerRowLike[]): Promise<void> {
    // The receivable lines of the batch's receipts, read once (receiving.ts): an unpinned receipt
    // of a (site, SKU) with none is a no-PO receipt without a query, the others match in memory.
    const receipts = rows.filter((r) => r.kind === 'receive' && r.status === 'applied' && (r.baseQty ?? 0) > 0);
    const book = await ReceivingBook.open(tx, receipts);
    // Receipts that matched no PO line, raised together after the batch (one insert, not one per
    // row), after the over-receipts, in row order, as when each receipt wrote its own.
    const noPo: ReceiptException[] = [];
    const over: ReceiptException[] = [];
    for (const r of rows) {
      if (r.status !== 'applied') continue;
      const qty = r.baseQty;
      if (qty === undefined || qty <= 0) continue;
      if (r.kind === 'receive') {
        if (r.po === undefined && !book.has(r.site, r.sku)) {
          noPo.push(noPoReceipt(r, qty));
          continue;
        }
        await this.receive(tx, book, r, qty, noPo, over);
      } else if (r.kind === 'issue' && r.req !== undefined) {
        const id = parseDocId('REQ', r.req);
        if (id !== undefined) await this.ports.consume(tx, String(id), r.site, r.sku, qty);
      }
    }
    await book.flush(tx);
    if (over.length) await this.ports.raise(tx, over);
    if (noPo.length) {
      // Only where purchasing happens: at a site that has purchase orders, a receipt without one is
      // the exception; at a site that never buys through POs every receipt would be (one query per batch).
      const buying = await repo.sitesWithPurchaseOrders(tx, [...new Set(noPo.map((e) => e.site))]);
      const raised = noPo.filter((e) => buying.has(e.site));
      if (raised.length) await this.ports.raise(tx, raised);
    }
  }

  private async receive(tx: Tx, book: ReceivingBook, r: LedgerRowLike, qty: number, noPo: ReceiptException[], over: ReceiptException[]): Promise<void> {
    // An unreadable pinned PO matches nothing (-1), and is raised as such below.
    const pinned = r.po !== undefined ? (parseDocId('PO', r.po) ?? -1) : undefined;
    const t = now();
    const got = book.receive(r, qty, pinned, r.appliedAt, t);
    const where = { site: r.site, movementId: r.id, sku: r.sku, location: r.location, batch: r.batch ?? '', project: r.project ?? '' };
    if (got.kind === 'no-open-line') {
      over.push({ type: 'OVER_RECEIPT', ...where, message: `receipt of ${qty / 1000} ${r.sku} pinned to ${r.po}, which has no open line of ${r.sku} at ${r.site}: recorded, not matched` });
      return;
    }
    if (got.kind === 'unmatched') {
      // Issue 10 §4: a receipt with no PO counts at the item's standard cost and is flagged; the
      // flag is this exception, where users work (no amount in the text: operators read the queue).
      noPo.push(noPoReceipt(r, qty));
      return;
    }
    for (const c of await book.statusChanges(tx, got.matches)) {
      const p = c.po;
      await repo.updatePo(tx, p.id, p, { status: c.status, updatedAt: t });
      book.changed(c);
      await this.ports.audit(tx, { entity: 'purchase-order', id: poIdOf(p.id), site: p.site, project: projectOfPo(p), action: `receipt ${r.id}`, by: r.operator ?? r.postedBy?.user ?? 'edge', before: { status: p.status }, after: { status: c.status } });
    }
    if (got.over > 0) {
      const { po, line, ordered } = got.last;
      over.push({
        type: 'OVER_RECEIPT',
        ...where,
        message: `receipt of ${qty / 1000} ${r.sku}: ${got.over / 1000} beyond ordered + 2% of PO-${po} line ${line} (ordered ${ordered / 1000}); recorded at that line's price`,
      });
    }
  }

  /** The receipt matches of ledger rows (costing reads them, in the same follower transaction). */
  receiptMatchesOf(q: Q, ledgerIds: readonly string[]): Promise<repo.ReceiptMatchRow[]> {
    return repo.matchesOf(q, ledgerIds);
  }
}

/**
 * Issue 10 §4: a receipt with no PO counts at the item's standard cost and is flagged; the flag is
 * this exception, where users work (no amount in the text: operators read the queue).
 */
function noPoReceipt(r: LedgerRowLike, qty: number): ReceiptException {
  return {
    type: 'NO_PO_RECEIPT',
    site: r.site,
    movementId: r.id,
    sku: r.sku,
    location: r.location,
    batch: r.batch ?? '',
    project: r.project ?? '',
    message: `receipt of ${qty / 1000} ${r.sku} at ${r.location} matched no open purchase order line of ${r.site}: costed at the item's standard cost`,
  };
}

/** What the receiving consumer reads of a ledger row (a structural subset of the follower's `LedgerEntry`). */
export interface LedgerRowLike {
  pos: number;
  id: string;
  site: string;
  location: string;
  kind: string;
  sku: string;
  batch?: string;
  project?: string;
  operator?: string;
  postedBy?: { user: string };
  status: string;
  /** Booked quantity, thousandths of the base unit. */
  baseQty?: number;
  po?: string;
  req?: string;
  /** When the ledger committed it: a receipt never matches a PO created after it (the follower may reach it late). */
  appliedAt?: string;
}

