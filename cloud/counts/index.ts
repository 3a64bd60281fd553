/** The public face of cloud/counts: the pure rules, the counts service and its ledger consumer, routes, module. */
export * from './rules.js';
export { type Actor, type CountApprovals, type CountStatus, type CountView, CountsService, countsService, setApprovalEngine } from './service.js';
export { countsDocs, countsRoutes } from './routes.js';
export { countsModule } from './module.js';
