/** The public face of `cloud/audit/`: other modules import from here only. */
export { actor, audit, auditMany, type AuditChange, type AuditEntity, type AuditEntry, AUDIT_ENTITIES } from './audit.js';
export { auditModule } from './module.js';
export { auditDocs, auditRoutes } from './routes.js';
