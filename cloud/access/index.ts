/** The public face of `cloud/access/`: other modules import from here only. */
export { type CostContext, COST_FIELDS, LANDED_COST_FIELDS, redactCost, Scope } from '../api/scope.js';
export { accessModule } from './module.js';
export { type User, usersWithRole } from './repo.js';
export { accessDocs, accessRoutes, UserId } from './routes.js';
export { getUser, issueUserToken, limitMqttUserToProject, mqttUserProject, resolvePrincipal, scopeOf, USER_TOKEN_PREFIX } from './service.js';
