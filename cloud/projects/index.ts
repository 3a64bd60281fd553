/**
 * The public face of `cloud/projects/`: other modules import from here only. Reads take a Kysely
 * instance or a transaction (`db.kysely`, or the `tx` a service or ledger consumer holds).
 * Quantities are integer thousandths of the item's base unit, money integer fen.
 */
export { projectsConsumer } from './consumer.js';
export { projectsModule } from './module.js';
export { getProject, listProjects, planLines, type ProjectRow, projectsOfManager, stageIssued, stagePlans, type StageRow } from './repo.js';
export { Code as ProjectCode, IsoDate, projectsDocs, projectsRoutes } from './routes.js';
export { type ProjectView, projectView } from './service.js';
export { DEFAULT_OVER_ISSUE_PCT, type PlanLine } from './rules.js';
