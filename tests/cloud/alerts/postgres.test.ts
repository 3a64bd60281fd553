import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { AlertStore } from '../../../cloud/alerts/alert-store.js';
import { alertPgMigrations, PgAlertStore } from '../../../cloud/alerts/postgres.js';
import { alertStoreContract, type AlertStoreHarness } from '../../contracts/alert-store.contract.js';

/** The PostgreSQL of the test machine (trust auth); override with STOCKGATE_TEST_PG. */
export const PG_URL = process.env.STOCKGATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A fresh schema per test, dropped afterwards. */
async function pgHarness(): Promise<AlertStoreHarness & { schema: string }> {
  const schema = `sg_alerts_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  await admin((c) => c.query(`CREATE SCHEMA ${schema}`));
  const opened: AlertStore[] = [];
  let closed = new Set<AlertStore>();
  return {
    schema,
    async open() {
      const s = await PgAlertStore.open({ connectionString: PG_URL, schema });
      opened.push(s);
      const close = s.close.bind(s);
      s.close = async () => {
        if (closed.has(s)) return;
        closed.add(s);
        await close();
      };
      return s;
    },
    async destroy() {
      for (const s of opened) await s.close();
      closed = new Set();
      await admin((c) => c.query(`DROP SCHEMA ${schema} CASCADE`));
    },
  };
}

alertStoreContract('PgAlertStore (fresh schema)', pgHarness);

describe('PgAlertStore specifics', () => {
  it('records each migration once, also when two instances start together', async () => {
    const h = await pgHarness();
    try {
      await Promise.all([h.open(), h.open(), h.open()]);
      const rows = await admin((c) => c.query(`SELECT version, name FROM ${h.schema}.db_migrations WHERE module = 'alerts' ORDER BY version`));
      expect(rows.rows).toEqual(alertPgMigrations.map((m) => ({ version: m.version, name: m.name })));
    } finally {
      await h.destroy();
    }
  });

  it('refuses a schema name that is not a plain identifier', async () => {
    await expect(PgAlertStore.open({ connectionString: PG_URL, schema: 'x; DROP TABLE y' })).rejects.toThrow(/schema/);
  });
});
