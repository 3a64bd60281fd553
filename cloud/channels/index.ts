/** The public face of `cloud/channels/` for other modules (the alert stores use the store files directly). */
export { enqueueProjectAlert, type ProjectAlert } from './project-alerts.js';
export { PROJECT_ALERT_TYPES } from './model.js';
