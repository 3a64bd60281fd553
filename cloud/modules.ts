import { accessModule } from './access/index.js';
import { alertsModule } from './alerts/module.js';
import { auditModule } from './audit/index.js';
import { approvalsModule } from './approvals/index.js';
import { authModule } from './auth/module.js';
import { costingModule } from './costing/module.js';
import type { DbModule } from './db/index.js';
import { ledgerFollowerModule } from './ledger-follower/index.js';
import { projectsModule } from './projects/index.js';
import { procurementModule } from './procurement/index.js';
import { salesModule } from './sales/index.js';
import { erpModule } from './erp/index.js';
import { countsModule } from './counts/index.js';
import { ledgerModule } from './store/module.js';
import { timeseriesModule } from './timeseries/sql-export-store.js';

/**
 * Every module with tables in the cloud's one database, in migration order. A new module
 * (catalog, projects, ...) adds its `DbModule` here; `stockgate cloud` and `stockgate admin init`
 * open the database with this list (cloud/README.md, "Modules and migrations").
 */
export const cloudModules: readonly DbModule[] = [
  ledgerModule,
  authModule,
  alertsModule,
  timeseriesModule,
  ledgerFollowerModule,
  auditModule,
  accessModule,
  projectsModule,
  salesModule,
  approvalsModule,
  procurementModule,
  costingModule,
  erpModule,
  countsModule,
];
