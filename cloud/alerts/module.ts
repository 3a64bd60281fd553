import type { DbModule } from '../db/index.js';
import { alertPgMigrations } from './postgres.js';
import { alertSqliteMigrations } from './sqlite.js';

/**
 * The alerts' part of the one database (levels, alerts, webhooks, deliveries, cursors).
 * stockgate 0.1 kept them in `alerts.db` (imported on upgrade, `cloud/db/legacy.ts`) or, on
 * PostgreSQL, recorded their versions in `alert_migrations`. Getters: the stores import this
 * module, and the lists are read only when migrating (no import-cycle ordering to care about).
 */
export const alertsModule: DbModule = {
  name: 'alerts',
  migrations: {
    get sqlite() {
      return alertSqliteMigrations;
    },
    get postgres() {
      return alertPgMigrations;
    },
  },
  legacyTable: { postgres: 'alert_migrations' },
};
