import { sql } from 'kysely';
import { reusable, type Tx } from '../db/index.js';
import type { BomLine, PlanInputLine, PlanLine } from './rules.js';

/** Queries of the projects module (Kysely, both dialects). Money in fen, quantities in thousandths. */

type Q = Pick<Tx, 'selectFrom' | 'getExecutor' | 'executeQuery'>;

// The queries of every ledger-follower batch are reusable (cloud/db/reusable-query.ts): built and
// compiled once per shape instead of per batch.
const stagesQuery = reusable('projects.stages', (db, codes: string[]) => db.selectFrom('project_stages').selectAll().where('project', 'in', codes).orderBy('project').orderBy('position'));
const projectQuery = reusable('projects.project', (db, code: string) => db.selectFrom('projects').selectAll().where('code', '=', code));
const plannedQuery = reusable('projects.planned', (db, project: string, stage: string, skus: string[]) =>
  db
    .selectFrom('plan_lines')
    .select(['sku', 'qty_milli'])
    .where('project', '=', project)
    .where('stage', '=', stage)
    .where('version', '=', sql<number>`(SELECT max(version) FROM plan_versions WHERE project = ${project} AND stage = ${stage})`)
    .where('sku', 'in', skus),
);
const stageIssueRowsQuery = reusable('projects.stage-issue-rows', (db, project: string, stage: string, skus: string[]) =>
  db.selectFrom('stage_issues').select(['sku', 'issued_milli', 'over_exception']).where('project', '=', project).where('stage', '=', stage).where('sku', 'in', skus),
);
const putStageIssuesQuery = reusable(
  'projects.put-stage-issues',
  (tx, rows: Array<Record<string, unknown>>) =>
    tx
      .insertInto('stage_issues')
      .values(rows)
      .onConflict((oc) => oc.columns(['project', 'stage', 'sku']).doUpdateSet((eb) => ({ issued_milli: eb.ref('excluded.issued_milli'), over_exception: eb.ref('excluded.over_exception'), updated_at: eb.ref('excluded.updated_at') }))),
  { nullIsValue: true },
);

export interface StageRow {
  code: string;
  name: string;
  needBy: string;
}

export interface ProjectRow {
  code: string;
  name: string;
  site: string;
  manager: string;
  contractRevenueFen: number;
  budgetFen: number | null;
  start: string | null;
  end: string | null;
  /** Over-issue tolerance, percent, a decimal string ("5", "2.5"). */
  overIssuePct: string;
  stages: StageRow[];
  createdAt: string;
  updatedAt: string;
}

/** Codes of the projects a user manages (`projects.manager`). */
export async function projectsOfManager(db: Q, user: string): Promise<string[]> {
  return (await db.selectFrom('projects').select('code').where('manager', '=', user).orderBy('code').execute()).map((r) => r.code as string);
}

async function stagesOf(db: Q, codes: readonly string[]): Promise<Map<string, StageRow[]>> {
  const out = new Map<string, StageRow[]>(codes.map((c) => [c, []]));
  if (codes.length === 0) return out;
  const { rows } = await stagesQuery(db, [...codes]);
  for (const r of rows) out.get(r.project as string)?.push({ code: r.code as string, name: r.name as string, needBy: r.need_by as string });
  return out;
}

function projectOf(r: Record<string, unknown>, stages: StageRow[]): ProjectRow {
  return {
    code: r.code as string,
    name: r.name as string,
    site: r.site as string,
    manager: r.manager as string,
    contractRevenueFen: Number(r.contract_revenue),
    budgetFen: r.budget === null || r.budget === undefined ? null : Number(r.budget),
    start: (r.start_date as string | null) ?? null,
    end: (r.end_date as string | null) ?? null,
    overIssuePct: r.over_issue_pct as string,
    stages,
    createdAt: r.created_at as string,
    updatedAt: r.updated_at as string,
  };
}

export async function getProject(db: Q, code: string): Promise<ProjectRow | undefined> {
  const r = (await projectQuery(db, code)).rows[0] as Record<string, unknown> | undefined;
  if (!r) return undefined;
  return projectOf(r, (await stagesOf(db, [code])).get(code)!);
}

/** Projects by code, filtered by site and by a set of codes (undefined = any). */
export async function listProjects(db: Q, q: { site?: string; sites?: readonly string[]; codes?: readonly string[]; limit: number; after?: string }): Promise<ProjectRow[]> {
  if (q.codes?.length === 0 || q.sites?.length === 0) return [];
  let s = db.selectFrom('projects').selectAll();
  if (q.site !== undefined) s = s.where('site', '=', q.site);
  if (q.sites !== undefined) s = s.where('site', 'in', q.sites);
  if (q.codes !== undefined) s = s.where('code', 'in', q.codes);
  if (q.after !== undefined) s = s.where('code', '>', q.after);
  const rows = await s.orderBy('code').limit(q.limit).execute();
  const stages = await stagesOf(db, rows.map((r) => r.code as string));
  return rows.map((r) => projectOf(r, stages.get(r.code as string)!));
}

export async function insertProject(tx: Tx, p: ProjectRow): Promise<void> {
  await tx
    .insertInto('projects')
    .values({
      code: p.code,
      name: p.name,
      site: p.site,
      manager: p.manager,
      contract_revenue: p.contractRevenueFen,
      budget: p.budgetFen,
      start_date: p.start,
      end_date: p.end,
      over_issue_pct: p.overIssuePct,
      created_at: p.createdAt,
      updated_at: p.updatedAt,
    })
    .execute();
  if (p.stages.length) {
    await tx
      .insertInto('project_stages')
      .values(p.stages.map((s, i) => ({ project: p.code, code: s.code, name: s.name, need_by: s.needBy, position: i })))
      .execute();
  }
}

export async function getBom(db: Q, code: string): Promise<{ code: string; name: string; lines: BomLine[]; updatedAt: string } | undefined> {
  const r = await db.selectFrom('boms').selectAll().where('code', '=', code).executeTakeFirst();
  return r ? { code: r.code as string, name: r.name as string, lines: JSON.parse(r.lines as string) as BomLine[], updatedAt: r.updated_at as string } : undefined;
}

export async function putBom(tx: Tx, b: { code: string; name: string; lines: BomLine[]; updatedAt: string }): Promise<void> {
  const row = { code: b.code, name: b.name, lines: JSON.stringify(b.lines), updated_at: b.updatedAt };
  await tx.insertInto('boms').values(row).onConflict((oc) => oc.column('code').doUpdateSet({ name: row.name, lines: row.lines, updated_at: row.updated_at })).execute();
}

export async function latestPlanVersion(db: Q, project: string, stage: string): Promise<{ version: number; createdAt: string; createdBy: string; input: PlanInputLine[] } | undefined> {
  const r = await db.selectFrom('plan_versions').selectAll().where('project', '=', project).where('stage', '=', stage).orderBy('version', 'desc').limit(1).executeTakeFirst();
  return r ? { version: Number(r.version), createdAt: r.created_at as string, createdBy: r.created_by as string, input: JSON.parse(r.input as string) as PlanInputLine[] } : undefined;
}

export async function insertPlan(tx: Tx, p: { project: string; stage: string; version: number; input: PlanInputLine[]; lines: PlanLine[]; createdAt: string; createdBy: string }): Promise<void> {
  await tx.insertInto('plan_versions').values({ project: p.project, stage: p.stage, version: p.version, input: JSON.stringify(p.input), created_at: p.createdAt, created_by: p.createdBy }).execute();
  if (p.lines.length) {
    await tx
      .insertInto('plan_lines')
      .values(p.lines.map((l) => ({ project: p.project, stage: p.stage, version: p.version, sku: l.sku, qty_milli: l.qtyMilli, need_by: l.needBy ?? null, sources: JSON.stringify(l.sources) })))
      .execute();
  }
}

/** The exploded lines of a stage's plan version (the latest when `version` is undefined). */
export async function planLines(db: Q, project: string, stage: string, version?: number): Promise<PlanLine[]> {
  const v = version ?? (await latestPlanVersion(db, project, stage))?.version;
  if (v === undefined) return [];
  const rows = await db.selectFrom('plan_lines').selectAll().where('project', '=', project).where('stage', '=', stage).where('version', '=', v).orderBy('sku').execute();
  return rows.map((r) => ({ sku: r.sku as string, qtyMilli: Number(r.qty_milli), ...(r.need_by ? { needBy: r.need_by as string } : {}), sources: JSON.parse(r.sources as string) as string[] }));
}

/**
 * The planned quantity (thousandths) of some SKUs in a stage's latest plan version, in one query:
 * the ledger consumer's read per (project, stage) and batch. `planLines` reads the version's
 * whole plan row first (its input JSON, parsed) and then every line with its sources; a batch
 * needs the quantities of its own SKUs only. A SKU not in the plan is not in the map (plan 0).
 */
export async function plannedQty(db: Q, project: string, stage: string, skus: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (let i = 0; i < skus.length; i += 500) {
    const { rows } = await plannedQuery(db, project, stage, skus.slice(i, i + 500));
    for (const r of rows) out.set(r.sku as string, Number(r.qty_milli));
  }
  return out;
}

/** Net issued (issues − returns) per SKU to a project stage, thousandths of the base unit. */
export async function stageIssued(db: Q, project: string, stage: string): Promise<Map<string, number>> {
  const rows = await db.selectFrom('stage_issues').select(['sku', 'issued_milli']).where('project', '=', project).where('stage', '=', stage).execute();
  return new Map(rows.map((r) => [r.sku as string, Number(r.issued_milli)]));
}

export async function stageIssueRow(tx: Q, project: string, stage: string, sku: string): Promise<{ issuedMilli: number; overException: number | null } | undefined> {
  const r = await tx.selectFrom('stage_issues').select(['issued_milli', 'over_exception']).where('project', '=', project).where('stage', '=', stage).where('sku', '=', sku).executeTakeFirst();
  return r ? { issuedMilli: Number(r.issued_milli), overException: r.over_exception === null ? null : Number(r.over_exception) } : undefined;
}

/** The stage_issues rows of many SKUs of one project stage (the ledger consumer reads a batch's at once). */
export async function stageIssueRows(tx: Q, project: string, stage: string, skus: readonly string[]): Promise<Map<string, { issuedMilli: number; overException: number | null }>> {
  const out = new Map<string, { issuedMilli: number; overException: number | null }>();
  for (let i = 0; i < skus.length; i += 500) {
    const { rows } = await stageIssueRowsQuery(tx, project, stage, skus.slice(i, i + 500));
    for (const r of rows) out.set(r.sku as string, { issuedMilli: Number(r.issued_milli), overException: r.over_exception === null ? null : Number(r.over_exception) });
  }
  return out;
}

/** Many stage_issues rows in multi-row upserts (one follower batch: one or a few statements). */
export async function putStageIssues(tx: Tx, list: ReadonlyArray<{ project: string; stage: string; sku: string; issuedMilli: number; overException: number | null; updatedAt: string }>): Promise<void> {
  for (let i = 0; i < list.length; i += 150) {
    await putStageIssuesQuery(tx, list.slice(i, i + 150).map((r) => ({ project: r.project, stage: r.stage, sku: r.sku, issued_milli: r.issuedMilli, over_exception: r.overException, updated_at: r.updatedAt })));
  }
}

export async function putStageIssue(tx: Tx, r: { project: string; stage: string; sku: string; issuedMilli: number; overException: number | null; updatedAt: string }): Promise<void> {
  const row = { project: r.project, stage: r.stage, sku: r.sku, issued_milli: r.issuedMilli, over_exception: r.overException, updated_at: r.updatedAt };
  await tx
    .insertInto('stage_issues')
    .values(row)
    .onConflict((oc) => oc.columns(['project', 'stage', 'sku']).doUpdateSet({ issued_milli: row.issued_milli, over_exception: row.over_exception, updated_at: row.updated_at }))
    .execute();
}

/**
 * Every stage of a project with its latest plan, per SKU: planned and net issued (thousandths of
 * the base unit) and the date it is needed by (the line's, else the stage's). For the cost report
 * (planned value per stage) and shortages (need = planned − net issued, by needBy).
 */
export async function stagePlans(db: Q, project: string): Promise<Array<{ stage: string; name: string; needBy: string; version: number; lines: Array<{ sku: string; plannedMilli: number; issuedMilli: number; needBy: string }> }>> {
  const p = await getProject(db, project);
  if (!p) return [];
  const out = [];
  for (const st of p.stages) {
    const v = await latestPlanVersion(db, project, st.code);
    const lines = v ? await planLines(db, project, st.code, v.version) : [];
    const issued = await stageIssued(db, project, st.code);
    const skus = [...new Set([...lines.map((l) => l.sku), ...issued.keys()])].sort();
    const byS = new Map(lines.map((l) => [l.sku, l]));
    out.push({
      stage: st.code,
      name: st.name,
      needBy: st.needBy,
      version: v?.version ?? 0,
      lines: skus.map((sku) => ({ sku, plannedMilli: byS.get(sku)?.qtyMilli ?? 0, issuedMilli: issued.get(sku) ?? 0, needBy: byS.get(sku)?.needBy ?? st.needBy })),
    });
  }
  return out;
}
