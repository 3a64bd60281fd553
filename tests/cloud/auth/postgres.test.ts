import pg from 'pg';
import { afterAll } from 'vitest';
import type { CredentialStore } from '../../../cloud/auth/credential-store.js';
import { PgCredentialStore } from '../../../cloud/auth/postgres.js';
import { credentialStoreContract, type CredentialStoreHarness } from '../../contracts/credential-store.contract.js';

/** The PostgreSQL on 127.0.0.1:5432 (trust auth), database `test`; each test gets its own schema. */
const URL = process.env.STOCKGATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const admin = new pg.Pool({ connectionString: URL, max: 2 });
afterAll(() => admin.end());

let n = 0;
/** A fresh schema (created by the first open); each `open` is another pool on it (another ingester). */
function pgHarness(): CredentialStoreHarness {
  const schema = `sg_auth_${process.pid}_${Date.now().toString(36)}_${n++}`;
  const opened: CredentialStore[] = [];
  return {
    async open() {
      const s = await PgCredentialStore.open({ url: URL, schema, maxConnections: 2 });
      opened.push(s);
      return s;
    },
    async storedText() {
      const r = await admin.query<{ t: string }>(
        `SELECT coalesce((SELECT string_agg(x::text, E'\\n') FROM "${schema}".tokens x), '') || coalesce((SELECT string_agg(y::text, E'\\n') FROM "${schema}".mqtt_users y), '') AS t`,
      );
      return r.rows[0]!.t;
    },
    async destroy() {
      for (const s of opened) await s.close();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    },
  };
}

credentialStoreContract('PgCredentialStore (own schema)', pgHarness);
