import type { DbModule } from '../db/index.js';

/** `audit_log`: one row per change of business data, written in the change's own transaction. */
export const auditModule: DbModule = {
  name: 'audit',
  migrations: {
    sqlite: [
      {
        version: 1,
        name: 'audit log',
        sql: `CREATE TABLE audit_log (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          entity TEXT NOT NULL,
          entity_id TEXT NOT NULL,
          action TEXT NOT NULL,
          by_user TEXT NOT NULL,
          at TEXT NOT NULL,
          site TEXT,
          project TEXT,
          before_json TEXT,
          after_json TEXT
        );
        CREATE INDEX audit_log_entity ON audit_log (entity, entity_id, id);`,
      },
    ],
    postgres: [
      {
        version: 1,
        name: 'audit log',
        sql: `CREATE TABLE audit_log (
          id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          entity TEXT COLLATE "C" NOT NULL,
          entity_id TEXT COLLATE "C" NOT NULL,
          action TEXT NOT NULL,
          by_user TEXT NOT NULL,
          at TEXT NOT NULL,
          site TEXT,
          project TEXT,
          before_json TEXT,
          after_json TEXT
        );
        CREATE INDEX audit_log_entity ON audit_log (entity, entity_id, id);`,
      },
    ],
  },
};
