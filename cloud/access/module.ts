import type { DbModule, Migration } from '../db/index.js';

/** Users (roles, sites, projects) and which API token was issued for which user. */
const migrations: Migration[] = [
  {
    version: 1,
    name: 'users, user tokens',
    up: async (db) => {
      await db.schema
        .createTable('users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('roles', 'text', (c) => c.notNull())
        .addColumn('sites', 'text')
        .addColumn('projects', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('user_tokens')
        .addColumn('token_id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .execute();
    },
  },
  {
    version: 2,
    name: 'project-scoped MQTT alerts readers',
    up: async (db) => {
      await db.schema
        .createTable('mqtt_user_projects')
        .addColumn('username', 'text', (c) => c.primaryKey())
        .addColumn('project', 'text', (c) => c.notNull())
        .execute();
    },
  },
];

export const accessModule: DbModule = { name: 'access', migrations: { sqlite: migrations, postgres: migrations } };
