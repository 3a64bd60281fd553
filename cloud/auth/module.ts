import type { DbModule } from '../db/index.js';
import { authPgMigrations } from './postgres.js';
import { authSqliteMigrations } from './sqlite.js';

/**
 * The credentials' part of the one database (API tokens, MQTT users). stockgate 0.1 kept them in
 * `auth.db` of each data dir (imported on upgrade, `cloud/db/legacy.ts`). Getters: the stores
 * import this module, and the lists are read only when migrating.
 */
export const authModule: DbModule = {
  name: 'auth',
  migrations: {
    get sqlite() {
      return authSqliteMigrations;
    },
    get postgres() {
      return authPgMigrations;
    },
  },
};
