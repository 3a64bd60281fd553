import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll } from 'vitest';
import type { Bus, BusHandler } from '../../cloud/broker/bus.js';
import { PostgresStore } from '../../cloud/store/postgres.js';
import { SqliteStore } from '../../cloud/store/sqlite.js';
import type { Store } from '../../cloud/store/store.js';
import type { Ack, Reject } from '../../protocols/mqtt/index.js';

/**
 * For the ingester's own tests: a `Bus` that records what the ingester publishes (the ingester
 * sees only the `Bus` interface; the brokers have their own tests), and the real stores to run
 * it on, a SQLite file and a schema of the real PostgreSQL.
 */
export class RecordingBus implements Bus {
  readonly describe = 'recording bus';
  readonly healthy = true;
  readonly published: Array<{ topic: string; payload: string }> = [];
  async subscribe(_f: string, _h: BusHandler): Promise<void> {}
  async publish(topic: string, payload: string | Buffer): Promise<void> {
    this.published.push({ topic, payload: String(payload) });
  }
  async close(): Promise<void> {}
  acks(): Ack[] {
    return this.published.filter((p) => p.topic.endsWith('/acks')).map((p) => JSON.parse(p.payload) as Ack);
  }
  rejects(): Reject[] {
    return this.published.filter((p) => p.topic.endsWith('/rejects')).map((p) => JSON.parse(p.payload) as Reject);
  }
}

export interface StoreBackend {
  name: string;
  open: () => Promise<{ store: Store; destroy: () => Promise<void> }>;
}

/** SQLite (a temp file) and PostgreSQL (a schema named `<prefix>_...`, dropped on destroy). Call at a test file's top level. */
export function storeBackends(prefix: string): StoreBackend[] {
  const url = process.env.STOCKGATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
  const admin = new pg.Pool({ connectionString: url, max: 2 });
  afterAll(() => admin.end());
  let n = 0;
  return [
    {
      name: 'SQLite',
      async open() {
        const dir = mkdtempSync(join(tmpdir(), `stockgate-${prefix}-`));
        const store = new SqliteStore(join(dir, 'ledger.db'));
        return { store, destroy: async () => (await store.close(), rmSync(dir, { recursive: true, force: true })) };
      },
    },
    {
      name: 'PostgreSQL',
      async open() {
        const schema = `sg_${prefix}_${process.pid}_${Date.now().toString(36)}_${n++}`;
        const store = await PostgresStore.open({ url, schema, maxConnections: 4 });
        return {
          store,
          destroy: async () => {
            await store.close();
            await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
          },
        };
      },
    },
  ];
}
