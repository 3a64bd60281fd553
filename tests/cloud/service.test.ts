import { describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { join } from 'node:path';
import pino from 'pino';
import { parseCloudConfig } from '../../cloud/config.js';
import { startCloud } from '../../cloud/service.js';
import { mv } from '../contracts/store.contract.js';
import { tempDir } from '../helpers/procs.js';

const listen = (port: number) =>
  new Promise<import('node:net').Server>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });

describe('startCloud', () => {
  it('closes what it opened when a later step fails (HTTP port taken): the broker port is free again', async () => {
    const blocker = await listen(0);
    const httpPort = (blocker.address() as { port: number }).port;
    const probe = await listen(0);
    const mqttPort = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    await expect(
      startCloud(parseCloudConfig({ dataDir: join(tempDir(), 'c'), mqttPort, httpPort, insecure: true }), pino({ level: 'silent' })),
    ).rejects.toThrow(/EADDRINUSE/);
    // The embedded broker opened before the failure must have been closed.
    const again = await listen(mqttPort);
    await new Promise((r) => again.close(r));
    await new Promise((r) => blocker.close(r));
  });

  it('--no-business: no ledger consumer runs (the follower has none, no cost entry), ingest and the ledger as usual; on by default', async () => {
    const log = pino({ level: 'silent' });
    for (const business of [false, true]) {
      const cloud = await startCloud(parseCloudConfig({ dataDir: join(tempDir(), 'c'), mqttPort: 0, httpPort: 0, insecure: true, ...(business ? {} : { business: false }) }), log);
      try {
        await cloud.ingester.submit([mv({ site: 'S1', sku: 'CEM', qty: 5, kind: 'receive' }), mv({ site: 'S1', sku: 'CEM', qty: 2, kind: 'issue', project: 'P1' })]);
        await cloud.follower.caughtUp();
        const st = cloud.follower.status();
        const health = (await (await fetch(`http://127.0.0.1:${cloud.httpPort}/healthz`)).json()) as { ingest: { applied: number }; follower: { consumers: string[]; rows: number } };
        expect(health.ingest.applied).toBe(2);
        const receipts = await cloud.db.kysely.selectFrom('cost_receipts').select('movement').execute();
        // No --erp-url: no ERP consumer, so the receipt queues no ERP event nothing would send.
        expect(await cloud.db.kysely.selectFrom('erp_outbox').select('id').execute()).toHaveLength(0);
        if (business) {
          expect(st.consumers).toEqual(['procurement', 'projects', 'costing', 'sales', 'counts']);
          expect(health.follower.rows).toBe(2);
          expect(receipts).toHaveLength(1);
        } else {
          expect(st.consumers).toEqual([]);
          expect(health.follower).toMatchObject({ consumers: [], rows: 0 });
          expect(receipts).toHaveLength(0);
        }
      } finally {
        await cloud.stop();
      }
    }
  });
});
