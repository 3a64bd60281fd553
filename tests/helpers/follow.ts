import pino from 'pino';
import { expect } from 'vitest';
import type { Db } from '../../cloud/db/index.js';
import { ledgerConsumers } from '../../cloud/ledger-consumers.js';
import { type LedgerConsumer, LedgerFollower } from '../../cloud/ledger-follower/index.js';

const silent = pino({ level: 'silent' });

/**
 * Run a `LedgerFollower` over `db` until it has caught up with the committed ledger, then stop it:
 * by default with every registered business consumer (`cloud/ledger-consumers.ts`), as the cloud
 * runs them. Expects no consumer to be failing; returns the follower's status.
 */
export async function followLedger(db: Db, o: { batchRows?: number; consumers?: LedgerConsumer[] } = {}): Promise<ReturnType<LedgerFollower['status']>> {
  const f = new LedgerFollower(db, silent, { pollMs: 0, minGapMs: 0, ...(o.batchRows ? { batchRows: o.batchRows } : {}) });
  for (const c of o.consumers ?? ledgerConsumers.map((make) => make({ db, log: silent })!)) f.register(c);
  await f.start();
  await f.caughtUp();
  await f.stop();
  expect(f.status().failing).toBeUndefined();
  return f.status();
}
