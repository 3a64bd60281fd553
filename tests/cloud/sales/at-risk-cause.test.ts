import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type SqliteDb } from '../../../cloud/db/index.js';
import { cloudModules } from '../../../cloud/modules.js';
import { reserve } from '../../../cloud/sales/index.js';
import { SqliteStore } from '../../../cloud/store/sqlite.js';
import { mv } from '../../contracts/store.contract.js';
import { followLedger } from '../../helpers/follow.js';
import { tempDir } from '../../helpers/procs.js';

/**
 * A RESERVATION_AT_RISK exception says which movement left the reservation uncovered. The sales
 * consumer reconciles once per follower batch, so the batch may hold more rows of that SKU after
 * the issue that took the stock: the exception names the issue, not a receipt that came after it
 * (it named the batch's last row of the SKU, a receipt here, whose message read "no longer covered
 * by stock on hand after movement <the receipt>"). Real SQLite store, follower and consumers.
 */
const opened: Array<{ db: SqliteDb; store: SqliteStore }> = [];
afterEach(async () => {
  for (const o of opened.splice(0)) (await o.store.close(), await o.db.close());
});

async function atRisk(batches: Array<Array<ReturnType<typeof mv>>>) {
  const db = (await openDatabase({ dataDir: tempDir('sg-at-risk-'), modules: cloudModules })) as SqliteDb;
  const store = new SqliteStore(db);
  opened.push({ db, store });
  await store.commit([{ movements: [mv({ site: 'R', location: 'WH-1', kind: 'receive', sku: 'CEM', qty: 10 })], deadLetters: [] }]);
  // 8 of the 10 reserved for a sales order.
  const r = await db.tx((tx) => reserve(tx, { ownerKind: 'sales-order', ownerId: 'SO-1', site: 'R', lines: [{ line: 1, sku: 'CEM', qty: 8_000 }], partial: false, by: 'test' }));
  expect(r.ok).toBe(true);
  for (const ms of batches) await store.commit([{ movements: ms, deadLetters: [] }]);
  await followLedger(db);
  const { rows } = await sql<{ movement_id: string; message: string }>`SELECT movement_id, message FROM exceptions WHERE type = 'RESERVATION_AT_RISK' ORDER BY id`.execute(db.kysely);
  return rows;
}

describe('RESERVATION_AT_RISK names the movement that took the stock', () => {
  it('an issue then a receipt of the same SKU in one batch: the issue', async () => {
    const issue = mv({ site: 'R', location: 'WH-1', kind: 'issue', sku: 'CEM', qty: 5 });
    const receipt = mv({ site: 'R', location: 'WH-1', kind: 'receive', sku: 'CEM', qty: 1 });
    const ex = await atRisk([[issue, receipt]]);
    // 10 - 5 + 1 = 6 on hand against 8 reserved.
    expect(ex).toHaveLength(1);
    expect(ex[0]!.movement_id).toBe(issue.id);
    expect(ex[0]!.message).toContain(`after movement ${issue.id}`);
  });

  it('a negative adjustment takes stock too; a transfer within the site does not', async () => {
    const adjust = mv({ site: 'R', location: 'WH-1', kind: 'adjust', sku: 'CEM', qty: -4 });
    const transfer = mv({ site: 'R', location: 'WH-1', toLocation: 'WH-2', kind: 'transfer', sku: 'CEM', qty: 1 });
    const ex = await atRisk([[adjust, transfer]]);
    expect(ex).toHaveLength(1);
    expect(ex[0]!.movement_id).toBe(adjust.id);
  });
});
