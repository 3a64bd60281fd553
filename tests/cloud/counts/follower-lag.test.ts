import { afterEach, describe, expect, it } from 'vitest';
import { countsService } from '../../../cloud/counts/index.js';
import { openDatabase, type SqliteDb } from '../../../cloud/db/index.js';
import { cloudModules } from '../../../cloud/modules.js';
import { SqliteStore } from '../../../cloud/store/sqlite.js';
import { mv } from '../../contracts/store.contract.js';
import { followLedger } from '../../helpers/follow.js';
import { tempDir } from '../../helpers/procs.js';

/**
 * An edge count scan reaches its count session through the ledger follower, which may be behind
 * the ledger (it yields to an ingest burst for up to 30 s). Submitting the count before the
 * follower attached a scan that is already in the ledger used to leave that scan out of the count
 * for good (nothing is attached to a submitted session): submit now answers 503
 * SG_ERR_UNAVAILABLE, retryable, until the follower has passed every count scan of the site since
 * the snapshot. Real SQLite store, follower and consumers.
 */
const opened: Array<{ db: SqliteDb; store: SqliteStore }> = [];
afterEach(async () => {
  for (const o of opened.splice(0)) (await o.store.close(), await o.db.close());
});

describe('count submit waits for the ledger follower to attach the count scans', () => {
  it('refused (503, retryable) while a count scan in the ledger is not attached; then submitted with it', async () => {
    const db = (await openDatabase({ dataDir: tempDir('sg-count-lag-'), modules: cloudModules })) as SqliteDb;
    const store = new SqliteStore(db);
    opened.push({ db, store });
    const follow = () => followLedger(db);
    await store.commit([{ movements: [mv({ site: 'C', location: 'WH-1', kind: 'receive', sku: 'CEM', qty: 10 }), mv({ site: 'C', location: 'WH-1', kind: 'receive', sku: 'SAND', qty: 4 })], deadLetters: [] }]);
    await follow();
    const counts = countsService(db);
    const c = await counts.open('clerk', { site: 'C', location: 'WH-1' });
    // A REST line for one SKU, and an edge count scan of the other: in the ledger, not attached yet.
    await counts.addLines(c.id, 'clerk', [{ sku: 'SAND', qty: 4 }]);
    const scan = mv({ site: 'C', location: 'WH-1', kind: 'count', sku: 'CEM', qty: 7 });
    await store.commit([{ movements: [scan], deadLetters: [] }]);

    const refused = await counts.submit(c.id, 'clerk').then(
      () => undefined,
      (e: Error & { code?: string; statusCode?: number }) => e,
    );
    expect(refused?.code).toBe('SG_ERR_UNAVAILABLE');
    expect(refused?.statusCode).toBe(503);
    expect(refused?.message).toContain('1 count scan(s) of site C');
    expect((await counts.view(c.id))!.status).toBe('open');

    await follow();
    const done = await counts.submit(c.id, 'clerk');
    expect(done.status).toBe('submitted');
    // The scan is in the count: CEM counted 7 against 10, booked by the ledger already.
    const cem = done.lines.find((l) => l.sku === 'CEM');
    expect(cem, JSON.stringify(done.lines)).toBeDefined();
    expect(cem!.counted).toBe(7);
    expect(cem!.variance).toBe(-3);
    expect(cem!.booked).toBe(-3);
  });
});
