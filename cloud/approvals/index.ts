/** The public face of `cloud/approvals/`: other modules import from here only. */
export { approvalRules, approvalsOf, type ApprovalState, type ApprovalSubject, decideApproval, replaceApprovalRules, submitForApproval, voidEarlierApprovals } from './engine.js';
export { approvalsModule } from './module.js';
export { approvalsDocs, approvalsRoutes } from './routes.js';
export { type Action, type Actor, type Approval, type ApprovalDoc, ApprovalError, type ApprovalRule, assertTransition, type DocStatus, type DocType, type StepRole, TRANSITIONS } from './rules.js';
