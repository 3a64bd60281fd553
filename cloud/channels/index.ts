/** The public face of `cloud/channels/` for other modules (the alert stores use the store files directly). */
export { enqueueChannelAlert, enqueueProjectAlert, type ProjectAlert } from './project-alerts.js';
export type { AlertEventJson } from './formats.js';
export { PROJECT_ALERT_TYPES, type RouteKey, USER_ALERT_TYPES } from './model.js';
