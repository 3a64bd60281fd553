import type { DbModule, Migration } from '../db/index.js';

/**
 * Projects, stages, BOM templates, versioned stage plans, and what the ledger issued to each
 * stage (kept by the projects ledger consumer). Money in fen (integers), quantities in thousandths.
 */
const migrations: Migration[] = [
  {
    version: 1,
    name: 'projects, stages, boms, plans, stage issues',
    up: async (db) => {
      await db.schema
        .createTable('projects')
        .addColumn('code', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('site', 'text', (c) => c.notNull())
        .addColumn('manager', 'text', (c) => c.notNull())
        .addColumn('contract_revenue', 'bigint', (c) => c.notNull())
        .addColumn('budget', 'bigint')
        .addColumn('start_date', 'text')
        .addColumn('end_date', 'text')
        .addColumn('over_issue_pct', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('projects_manager').on('projects').columns(['manager']).execute();
      await db.schema
        .createTable('project_stages')
        .addColumn('project', 'text', (c) => c.notNull())
        .addColumn('code', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('need_by', 'text', (c) => c.notNull())
        .addColumn('position', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('project_stages_pk', ['project', 'code'])
        .execute();
      await db.schema
        .createTable('boms')
        .addColumn('code', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('lines', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('plan_versions')
        .addColumn('project', 'text', (c) => c.notNull())
        .addColumn('stage', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('input', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('plan_versions_pk', ['project', 'stage', 'version'])
        .execute();
      await db.schema
        .createTable('plan_lines')
        .addColumn('project', 'text', (c) => c.notNull())
        .addColumn('stage', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('sku', 'text', (c) => c.notNull())
        .addColumn('qty_milli', 'bigint', (c) => c.notNull())
        .addColumn('need_by', 'text')
        .addColumn('sources', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('plan_lines_pk', ['project', 'stage', 'version', 'sku'])
        .execute();
      await db.schema
        .createTable('stage_issues')
        .addColumn('project', 'text', (c) => c.notNull())
        .addColumn('stage', 'text', (c) => c.notNull())
        .addColumn('sku', 'text', (c) => c.notNull())
        .addColumn('issued_milli', 'bigint', (c) => c.notNull())
        .addColumn('over_exception', 'bigint')
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('stage_issues_pk', ['project', 'stage', 'sku'])
        .execute();
    },
  },
];

export const projectsModule: DbModule = { name: 'projects', migrations: { sqlite: migrations, postgres: migrations } };
