import { fromMilli } from '../../protocols/ledger/quantity.js';
import { topics } from '../../protocols/mqtt/index.js';
import { enqueueProjectAlert } from '../channels/index.js';
import type { LedgerConsumer, LedgerEntry, Tx } from '../ledger-follower/index.js';
import * as repo from './repo.js';
import { DEFAULT_OVER_ISSUE_PCT, overIssueLimitMilli } from './rules.js';

/**
 * The projects consumer of the ledger follower (after procurement, before costing): issues and
 * returns to a project stage move its net issued quantity per SKU (`stage_issues`, thousandths
 * of the base unit, the plan's unit); issues beyond plan + tolerance open one OVER_ISSUE exception
 * per (project, stage, SKU) while it is open, routed to the project's manager (issue 10 §1). The
 * issue itself was applied by the ledger: it happened (超领 is reconciled, never refused).
 *
 * Rows without a stage, of a project the module does not know, or recorded as exceptions (no
 * balance moved) are not counted: there is no plan to hold them against.
 */
export function projectsConsumer(publish?: (topic: string, payload: string) => void): LedgerConsumer {
  // The over-issues of the batch in flight, published once it committed (a replayed or rolled
  // back batch starts this list again): `stockgate/v1/{site}/alerts/projects/{project}/over-issue`.
  let raised: OverIssueEvent[] = [];
  return {
    name: 'projects',
    afterCommit() {
      for (const e of raised) publish?.(topics.projectAlerts(e.site, e.project, 'over-issue'), JSON.stringify(e));
      raised = [];
    },
    async apply(tx, rows) {
      raised = [];
      // Per (project, stage, SKU): the batch's rows in ledger order with their signed quantities.
      // Each issue is held against the plan as it comes (below), not only the batch's net: the
      // follower sizes its batches by time (slices, catch-up), so a net per batch would make
      // which movement raises an over-issue, and whether one is raised at all (an issue past the
      // limit, then a return in the same batch), depend on how busy the machine was.
      const deltas = new Map<string, StageDelta>();
      for (const r of rows) {
        if ((r.kind !== 'issue' && r.kind !== 'return') || r.status !== 'applied' || !r.project || !r.stage) continue;
        const q = r.baseQty ?? r.qty;
        const key = JSON.stringify([r.project, r.stage, r.sku]);
        let d = deltas.get(key);
        if (!d) deltas.set(key, (d = { project: r.project, stage: r.stage, sku: r.sku, delta: 0, issues: false, steps: [] }));
        const signed = r.kind === 'issue' ? q : -q;
        d.delta += signed;
        if (signed > 0) d.issues = true;
        d.steps.push({ row: r, signed });
      }
      if (deltas.size === 0) return;
      // Set-based (the follower holds the one SQLite connection while it runs): the batch's
      // projects, stage rows and plans are read once per (project, stage), and the new stage
      // totals written in one multi-row upsert; only an over-issue costs queries of its own.
      const sorted = [...deltas.values()].sort((a, b) => (a.project + '\0' + a.stage + '\0' + a.sku < b.project + '\0' + b.stage + '\0' + b.sku ? -1 : 1));
      const projects = new Map<string, repo.ProjectRow | null>();
      const known = (d: { project: string; stage: string }) => {
        const p = projects.get(d.project);
        return p && p.stages.some((s) => s.code === d.stage) ? p : undefined;
      };
      // Per (project, stage): its SKUs in the batch, and those with an issue in it (only those can
      // become over-issued, so only their plan is read).
      const byStage = new Map<string, { project: string; stage: string; skus: string[]; up: string[] }>();
      for (const d of sorted) {
        if (!projects.has(d.project)) projects.set(d.project, (await repo.getProject(tx, d.project)) ?? null);
        if (!known(d)) continue;
        const k = `${d.project}\0${d.stage}`;
        const g = byStage.get(k) ?? { project: d.project, stage: d.stage, skus: [], up: [] };
        g.skus.push(d.sku);
        if (d.issues) g.up.push(d.sku);
        byStage.set(k, g);
      }
      const current = new Map<string, Map<string, { issuedMilli: number; overException: number | null }>>();
      for (const [k, g] of byStage) current.set(k, await repo.stageIssueRows(tx, g.project, g.stage, g.skus));
      // One query per (project, stage): the rising SKUs' lines of its latest plan version.
      const plans = new Map<string, Map<string, number>>();
      for (const [k, g] of byStage) if (g.up.length) plans.set(k, await repo.plannedQty(tx, g.project, g.stage, g.up));
      const planned = (project: string, stage: string, sku: string) => plans.get(`${project}\0${stage}`)?.get(sku) ?? 0;
      const now = new Date().toISOString();
      const put: Parameters<typeof repo.putStageIssues>[1][number][] = [];
      for (const d of sorted) {
        const p = known(d);
        if (!p) continue;
        const cur = current.get(`${d.project}\0${d.stage}`)!.get(d.sku);
        const before = cur?.issuedMilli ?? 0;
        let over = cur?.overException ?? null;
        if (d.issues) {
          const plan = planned(d.project, d.stage, d.sku);
          const tol = Number(p.overIssuePct ?? DEFAULT_OVER_ISSUE_PCT);
          const limit = overIssueLimitMilli(plan, tol);
          // Whether `over` is still open: read once, when an issue first goes past the limit.
          let open: boolean | undefined;
          let issued = before;
          for (const { row, signed } of d.steps) {
            issued += signed;
            if (signed <= 0 || issued <= limit) continue;
            open ??= over !== null && (await isOpen(tx, over));
            if (open) continue;
            // The issue that went past the limit raises it, named in the exception and the alert.
            over = await raiseOverIssue(tx, p, d, row, plan, issued, tol, now);
            open = true;
            // To the project's channels (its manager's robot or mailbox), in this transaction.
            await enqueueProjectAlert(tx, { type: 'OVER_ISSUE', exception: over, site: row.site, project: p.code, stage: d.stage, sku: d.sku, issued: fromMilli(issued), planned: fromMilli(plan), raisedAt: now }, new Date(now));
            raised.push({ type: 'OVER_ISSUE', exception: over, site: row.site, project: p.code, stage: d.stage, sku: d.sku, planned: fromMilli(plan), issued: fromMilli(issued), tolerancePct: tol, manager: p.manager, movementId: row.id, raisedAt: now });
          }
        }
        put.push({ project: d.project, stage: d.stage, sku: d.sku, issuedMilli: before + d.delta, overException: over, updatedAt: now });
      }
      await repo.putStageIssues(tx, put);
    },
  };
}

/** One (project, stage, SKU) of a batch: its net change, and its rows in ledger order. */
interface StageDelta {
  project: string;
  stage: string;
  sku: string;
  delta: number;
  /** An issue is among the rows (only then can the key go past its plan). */
  issues: boolean;
  steps: Array<{ row: LedgerEntry; signed: number }>;
}

/** The MQTT payload of an over-issue on the project's alert topic. */
export interface OverIssueEvent {
  type: 'OVER_ISSUE';
  /** The exception's id in GET /api/v1/exceptions. */
  exception: number;
  site: string;
  project: string;
  stage: string;
  sku: string;
  planned: number;
  issued: number;
  tolerancePct: number;
  manager: string;
  movementId: string;
  raisedAt: string;
}

async function isOpen(tx: Tx, id: number): Promise<boolean> {
  const r = await tx.selectFrom('exceptions').select('state').where('id', '=', id).executeTakeFirst();
  return r?.state === 'open';
}

/** One OVER_ISSUE in the exception queue (GET /api/v1/exceptions), with the project, routed to its manager. */
async function raiseOverIssue(tx: Tx, p: repo.ProjectRow, d: { stage: string; sku: string }, row: LedgerEntry, planned: number, issued: number, tol: number, now: string): Promise<number> {
  const message = `project ${p.code} stage ${d.stage}: net issued ${fromMilli(issued)} ${d.sku} against a plan of ${fromMilli(planned)} + ${tol}% tolerance; routed to the project manager ${p.manager}`;
  const r = await tx
    .insertInto('exceptions')
    .values({ type: 'OVER_ISSUE', site: row.site, movement_id: row.id, sku: d.sku, location: row.location, batch: row.batch ?? '', project: p.code, message, state: 'open', raised_at: now })
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(r.id);
}
