import { fromMilli } from '../../protocols/ledger/quantity.js';
import { audit } from '../audit/index.js';
import type { Db } from '../db/index.js';
import { Errors } from '../errors.js';
import { formatMoney } from '../money.js';
import * as repo from './repo.js';
import { type BomLine, DEFAULT_OVER_ISSUE_PCT, explodePlan, PlanError, type PlanInputLine, planDiff, planStatus, toMilli } from './rules.js';

/** A project as the API shows it: money as decimal strings (cost fields, redacted by the route). */
export interface ProjectView {
  code: string;
  name: string;
  site: string;
  manager: string;
  contractRevenue: string;
  budget?: string;
  start?: string;
  end?: string;
  overIssuePct: string;
  stages: repo.StageRow[];
  createdAt: string;
  updatedAt: string;
}

export function projectView(p: repo.ProjectRow): ProjectView {
  return {
    code: p.code,
    name: p.name,
    site: p.site,
    manager: p.manager,
    contractRevenue: formatMoney(p.contractRevenueFen),
    ...(p.budgetFen === null ? {} : { budget: formatMoney(p.budgetFen) }),
    ...(p.start ? { start: p.start } : {}),
    ...(p.end ? { end: p.end } : {}),
    overIssuePct: p.overIssuePct,
    stages: p.stages,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
  };
}

export interface NewProject {
  code: string;
  name: string;
  site: string;
  manager: string;
  contractRevenueFen: number;
  budgetFen?: number;
  start?: string;
  end?: string;
  overIssuePct?: number;
  stages: repo.StageRow[];
}

/** Create a project with its stages (409 when the code exists), audited in the same transaction. */
export async function createProject(db: Db, n: NewProject, by: string): Promise<ProjectView> {
  return db.tx(async (tx) => {
    if (await repo.getProject(tx, n.code)) throw new Errors.Conflict(`code: project ${n.code} exists`);
    const now = new Date().toISOString();
    const row: repo.ProjectRow = {
      code: n.code,
      name: n.name,
      site: n.site,
      manager: n.manager,
      contractRevenueFen: n.contractRevenueFen,
      budgetFen: n.budgetFen ?? null,
      start: n.start ?? null,
      end: n.end ?? null,
      overIssuePct: String(n.overIssuePct ?? DEFAULT_OVER_ISSUE_PCT),
      stages: n.stages,
      createdAt: now,
      updatedAt: now,
    };
    await repo.insertProject(tx, row);
    const view = projectView(row);
    await audit(tx, { entity: 'project', id: n.code, action: 'create', by, before: null, after: view, site: n.site, project: n.code });
    return view;
  });
}

/** Create or replace a BOM template (quantities per one BOM, base units; scrap in percent). */
export async function putBom(db: Db, b: { code: string; name: string; lines: BomLine[] }, by: string): Promise<{ code: string; name: string; lines: BomLine[]; updatedAt: string }> {
  b.lines.forEach((l, i) => {
    try {
      toMilli(l.qtyPer, `lines[${i}].qtyPer`);
    } catch (err) {
      if (err instanceof PlanError) throw new Errors.BadBody(err.message);
      throw err;
    }
  });
  return db.tx(async (tx) => {
    const before = await repo.getBom(tx, b.code);
    const bom = { ...b, updatedAt: new Date().toISOString() };
    await repo.putBom(tx, bom);
    await audit(tx, { entity: 'bom', id: b.code, action: before ? 'update' : 'create', by, before: before ?? null, after: bom });
    return bom;
  });
}

const lineView = (l: { sku: string; qtyMilli: number; needBy?: string; sources: string[] }) => ({ sku: l.sku, qty: fromMilli(l.qtyMilli), ...(l.needBy ? { needBy: l.needBy } : {}), sources: l.sources });

/**
 * A new version of a stage's plan: the input exploded (BOM multiples with scrap, direct lines),
 * one line per SKU; the earlier versions are kept. 422 SG_ERR_BAD_PLAN names a bad line.
 */
export async function putPlan(db: Db, project: repo.ProjectRow, stage: string, input: PlanInputLine[], by: string) {
  if (!project.stages.some((s) => s.code === stage)) throw new Errors.NotFound(`stage: project ${project.code} has no stage ${stage}`);
  return db.tx(async (tx) => {
    const boms = new Map<string, BomLine[]>();
    for (const l of input) if ('bom' in l && !boms.has(l.bom)) {
      const b = await repo.getBom(tx, l.bom);
      if (b) boms.set(l.bom, b.lines);
    }
    let lines;
    try {
      lines = explodePlan(input, boms);
    } catch (err) {
      if (err instanceof PlanError) throw new Errors.BadPlan(err.message);
      throw err;
    }
    const prev = await repo.latestPlanVersion(tx, project.code, stage);
    const before = prev ? await repo.planLines(tx, project.code, stage, prev.version) : [];
    const version = (prev?.version ?? 0) + 1;
    const createdAt = new Date().toISOString();
    await repo.insertPlan(tx, { project: project.code, stage, version, input, lines, createdAt, createdBy: by });
    const after = lines.map(lineView);
    await audit(tx, { entity: 'plan', id: `${project.code}/${stage}`, action: prev ? 'revise' : 'create', by, before: prev ? { version: prev.version, lines: before.map(lineView) } : null, after: { version, lines: after }, site: project.site, project: project.code });
    return {
      project: project.code,
      stage,
      version,
      createdAt,
      createdBy: by,
      lines: after,
      changes: planDiff(before, lines).map((d) => ({ sku: d.sku, from: fromMilli(d.fromMilli), to: fromMilli(d.toMilli) })),
    };
  });
}

/** Planned, net issued and remaining per SKU of a stage (the latest plan version), decimals of the base unit. */
export async function planView(db: Db, project: repo.ProjectRow, stage: string) {
  const st = project.stages.find((s) => s.code === stage);
  if (!st) throw new Errors.NotFound(`stage: project ${project.code} has no stage ${stage}`);
  const q = db.kysely;
  const v = await repo.latestPlanVersion(q, project.code, stage);
  const lines = v ? await repo.planLines(q, project.code, stage, v.version) : [];
  const issued = await repo.stageIssued(q, project.code, stage);
  const byS = new Map(lines.map((l) => [l.sku, l]));
  // The item master's (base) unit of each line: plans are kept in it, and a reader that totals a
  // stage must never add across units (issue 9: "never add different units").
  const skus = [...new Set(lines.map((l) => l.sku))];
  const uoms = new Map<string, string>();
  for (let i = 0; i < skus.length; i += 500) {
    for (const r of await q.selectFrom('items').select(['sku', 'uom']).where('sku', 'in', skus.slice(i, i + 500)).execute()) uoms.set(r.sku as string, r.uom as string);
  }
  return {
    project: project.code,
    stage,
    needBy: st.needBy,
    version: v?.version ?? 0,
    ...(v ? { createdAt: v.createdAt, createdBy: v.createdBy } : {}),
    lines: planStatus(lines, issued).map((s) => ({
      sku: s.sku,
      ...(uoms.has(s.sku) ? { uom: uoms.get(s.sku) } : {}),
      planned: fromMilli(s.plannedMilli),
      issued: fromMilli(s.issuedMilli),
      remaining: fromMilli(s.remainingMilli),
      needBy: byS.get(s.sku)?.needBy ?? st.needBy,
    })),
  };
}
