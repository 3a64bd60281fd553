import pg from 'pg';
import pino from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type Db, type DbModule, openDatabase, type PostgresDb, type SqliteDb } from '../../../cloud/db/index.js';
import { type LedgerConsumer, type LedgerEntry, LedgerFollower, type Tx } from '../../../cloud/ledger-follower/index.js';
import { cloudModules } from '../../../cloud/modules.js';
import { PostgresStore } from '../../../cloud/store/postgres.js';
import { SqliteStore } from '../../../cloud/store/sqlite.js';
import type { Store } from '../../../cloud/store/store.js';
import { mv } from '../../contracts/store.contract.js';
import { commitLevel } from '../../helpers/commit-level.js';
import { tempDir } from '../../helpers/procs.js';

/** The PostgreSQL of the test machine (trust auth), database `test`; each test gets its own schema. */
const URL = process.env.STOCKGATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const admin = new pg.Pool({ connectionString: URL, max: 2 });
afterAll(() => admin.end());
const silent = pino({ level: 'silent' });

/** Where the test consumers record what they were given: a duplicate (consumer, id) fails the batch. */
const seenModule: DbModule = {
  name: 'follower-test',
  migrations: {
    sqlite: [{ version: 1, name: 'seen', sql: 'CREATE TABLE seen (consumer TEXT NOT NULL, id TEXT NOT NULL, pos INTEGER NOT NULL, qty INTEGER NOT NULL, PRIMARY KEY (consumer, id))' }],
    postgres: [{ version: 1, name: 'seen', sql: 'CREATE TABLE seen (consumer TEXT NOT NULL, id TEXT NOT NULL, pos BIGINT NOT NULL, qty BIGINT NOT NULL, PRIMARY KEY (consumer, id))' }],
  },
};

/** A consumer that records each row in `seen` (in the follower's transaction), and can be made to throw. */
function recorder(name: string, o: { failOn?: (r: LedgerEntry) => boolean } = {}) {
  const c = {
    name,
    calls: 0,
    committed: [] as LedgerEntry[],
    async apply(tx: Tx, rows: readonly LedgerEntry[]) {
      c.calls++;
      for (const r of rows) {
        await tx.insertInto('seen').values({ consumer: name, id: r.id, pos: r.pos, qty: r.qty }).execute();
        if (o.failOn?.(r)) throw new Error(`cannot take ${r.id}`);
      }
    },
    afterCommit(rows: readonly LedgerEntry[]) {
      c.committed.push(...rows);
    },
  };
  return c;
}

interface Rig {
  dialect: string;
  /** Another process's connection to the same database. */
  open(): Promise<{ db: Db; store: Store }>;
  destroy(): Promise<void>;
}

let n = 0;
function sqliteRig(): Rig {
  const dataDir = tempDir('sg-follow-');
  const opened: Array<{ db: Db; store: Store }> = [];
  return {
    dialect: 'sqlite',
    async open() {
      const db = await openDatabase({ dataDir, modules: [...cloudModules, seenModule] });
      const o = { db, store: new SqliteStore(db as SqliteDb) };
      opened.push(o);
      return o;
    },
    async destroy() {
      for (const o of opened.reverse()) (await o.store.close(), await o.db.close());
    },
  };
}
function pgRig(): Rig {
  const schema = `sg_follow_${process.pid}_${Date.now().toString(36)}_${n++}`;
  const opened: Array<{ db: Db; store: Store }> = [];
  let created: Promise<unknown> | undefined;
  return {
    dialect: 'postgres',
    async open() {
      await (created ??= admin.query(`CREATE SCHEMA "${schema}"`));
      const db = await openDatabase({ dataDir: tempDir('sg-follow-'), store: URL, schema, modules: [...cloudModules, seenModule] });
      const o = { db, store: await PostgresStore.on(db as PostgresDb) };
      opened.push(o);
      return o;
    },
    async destroy() {
      for (const o of opened.reverse()) (await o.store.close(), await o.db.close());
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    },
  };
}

async function seen(db: Db, consumer: string): Promise<Array<{ id: string; pos: number; qty: number }>> {
  const rows = await db.kysely.selectFrom('seen').select(['id', 'pos', 'qty']).where('consumer', '=', consumer).orderBy('pos').execute();
  return rows.map((r) => ({ id: r.id as string, pos: Number(r.pos), qty: Number(r.qty) }));
}

async function ledgerIds(store: Store): Promise<string[]> {
  return (await store.ledgerAfter(0, 10_000)).map((r) => r.id);
}

const commit = (store: Store, ...ms: ReturnType<typeof mv>[]) => store.commit([{ movements: ms, deadLetters: [] }]);

for (const make of [sqliteRig, pgRig]) {
  describe(`ledger follower on ${make().dialect}`, () => {
    let rig: Rig | undefined;
    const followers: LedgerFollower[] = [];
    afterEach(async () => {
      for (const f of followers.splice(0)) await f.stop();
      await rig?.destroy();
      rig = undefined;
    });
    const follower = (db: Db, consumers: LedgerConsumer[], opts = {}) => {
      const f = new LedgerFollower(db, silent, { pollMs: 0, minGapMs: 0, backoffMs: 10, ...opts });
      for (const c of consumers) f.register(c);
      followers.push(f);
      return f;
    };

    it('hands every committed row to each consumer once, in registration order, in position order per site, with thousandths', async () => {
      rig = make();
      const { db, store } = await rig.open();
      const order: string[] = [];
      const a = recorder('a');
      const b = recorder('b');
      const wrap = (c: ReturnType<typeof recorder>): LedgerConsumer => ({ name: c.name, apply: async (tx, rows) => (order.push(c.name), c.apply(tx, rows)), afterCommit: (r) => c.afterCommit!(r) });
      const f = follower(db, [wrap(a), wrap(b)], { batchRows: 3 });
      await f.start();
      await commit(store, mv({ site: 'site-A', qty: 1.5, kind: 'receive', project: 'P1', stage: 'S1', crew: 'C1' }), mv({ site: 'site-B', qty: 2 }));
      await commit(store, mv({ site: 'site-A', qty: 0.25, kind: 'issue', project: 'P1', stage: 'S1', operator: 'op-1' }), mv({ site: 'site-B', qty: 3 }), mv({ site: 'site-A', qty: 4 }));
      await f.caughtUp();
      const ids = await ledgerIds(store);
      expect(ids).toHaveLength(5);
      for (const c of ['a', 'b']) expect((await seen(db, c)).map((r) => r.id).sort()).toEqual([...ids].sort());
      // Batches of at most 3 rows: 2 batches, each consumer a then b.
      expect(order).toEqual(['a', 'b', 'a', 'b']);
      const rows = a.committed;
      for (const site of ['site-A', 'site-B']) {
        const pos = rows.filter((r) => r.site === site).map((r) => r.pos);
        expect(pos).toEqual([...pos].sort((x, y) => x - y));
      }
      const issue = rows.find((r) => r.kind === 'issue')!;
      expect(issue).toMatchObject({ qty: 250, uom: 'ea', project: 'P1', stage: 'S1', operator: 'op-1', site: 'site-A', status: 'applied' });
      expect(rows.find((r) => r.qty === 1500)).toMatchObject({ crew: 'C1', kind: 'receive' });
      expect(issue.batch).toBeUndefined();
      expect(f.status()).toMatchObject({ consumers: ['a', 'b'], batches: 2, rows: 5 });
      expect(f.status().failing).toBeUndefined();
    });

    it('a consumer that throws rolls the whole batch back for every consumer; retried with backoff, then exactly once', async () => {
      rig = make();
      const { db, store } = await rig.open();
      let broken = true;
      const a = recorder('a');
      const b = recorder('b', { failOn: (r) => broken && r.sku === 'BOOM' });
      const f = follower(db, [a, b]);
      await f.start();
      await commit(store, mv({ sku: 'OK-1' }), mv({ sku: 'BOOM' }), mv({ sku: 'OK-2' }));
      f.wake();
      await expect.poll(() => f.status().failing?.attempts ?? 0).toBeGreaterThanOrEqual(2);
      const failing = f.status().failing!;
      expect(failing).toMatchObject({ consumer: 'b', error: expect.stringContaining('cannot take') });
      // Nothing of the batch is kept: not a's rows either, and a's afterCommit never ran.
      expect(await seen(db, 'a')).toEqual([]);
      expect(await seen(db, 'b')).toEqual([]);
      expect(a.committed).toEqual([]);
      broken = false;
      await expect.poll(() => f.status().failing).toBeUndefined();
      await f.caughtUp();
      const ids = await ledgerIds(store);
      expect((await seen(db, 'a')).map((r) => r.id)).toEqual(ids);
      expect((await seen(db, 'b')).map((r) => r.id)).toEqual(ids);
      expect(a.committed.map((r) => r.id)).toEqual(ids);
    });

    it('a restart resumes at the cursors (nothing again, nothing lost); a consumer added later starts at the beginning', async () => {
      rig = make();
      const one = await rig.open();
      const f1 = follower(one.db, [recorder('a')]);
      await f1.start();
      await commit(one.store, mv(), mv({ site: 'site-B' }));
      await f1.caughtUp();
      await f1.stop();
      await commit(one.store, mv(), mv({ site: 'site-B' }), mv({ site: 'site-C' }));
      // Another process (its own connection) after a restart, with a second consumer.
      const two = await rig.open();
      const late = recorder('late');
      const f2 = follower(two.db, [recorder('a'), late]);
      await f2.start();
      await f2.caughtUp();
      const ids = await ledgerIds(one.store);
      expect(ids).toHaveLength(5);
      expect((await seen(two.db, 'a')).map((r) => r.id)).toEqual(ids);
      expect((await seen(two.db, 'late')).map((r) => r.id)).toEqual(ids);
      // The late one got all five; `a` only the three it had not seen.
      expect(late.committed).toHaveLength(5);
    });

    it('its batches commit without waiting for the disk (durable: false), durably with durableBatches; ingest commits stay durable (issue 14)', async () => {
      rig = make();
      const { db, store } = await rig.open();
      // What each batch's COMMIT will do, read inside it: SQLite synchronous (2 FULL, 1 NORMAL), PostgreSQL synchronous_commit.
      const level = (tx: Tx) => commitLevel(tx, db.dialect);
      const levels: Record<string, string[]> = { relaxed: [], durable: [] };
      const probe = (name: keyof typeof levels): LedgerConsumer => ({ name, apply: async (tx) => void levels[name]!.push(await level(tx)) });
      const f1 = follower(db, [probe('relaxed')]);
      await f1.start();
      await commit(store, mv(), mv({ site: 'site-B' }));
      await f1.caughtUp();
      await f1.stop();
      const f2 = follower(db, [probe('durable')], { durableBatches: true });
      await f2.start();
      await f2.caughtUp();
      expect(levels).toEqual(db.dialect === 'sqlite' ? { relaxed: ['1'], durable: ['2'] } : { relaxed: ['off'], durable: ['on'] });
      // The connection the ingest commit writes on is back at FULL after a batch.
      if (db.dialect === 'sqlite') expect((db as SqliteDb).handle.pragma('synchronous', { simple: true })).toBe(2);
    });

    it('wakes on its own: the poll finds rows another process committed', async () => {
      rig = make();
      const { db } = await rig.open();
      const other = await rig.open();
      const a = recorder('a');
      const f = follower(db, [a], { pollMs: 20 });
      await f.start();
      await commit(other.store, mv(), mv());
      await expect.poll(() => a.committed.length).toBe(2);
    });

    it('yields to a busy ingester (busyShare), visible in status (yielding, lagMs), and catches up once ingest is idle', async () => {
      rig = make();
      const { db, store } = await rig.open();
      for (let i = 0; i < 20; i++) await commit(store, ...Array.from({ length: 10 }, () => mv()));
      const a = recorder('a');
      // A batch takes at least 20 ms; 1% of the time while busy: the next batch waits 99 times that.
      const slow: LedgerConsumer = { name: 'a', apply: async (tx, rows) => (await new Promise((r) => setTimeout(r, 20)), a.apply(tx, rows)), afterCommit: (r) => a.afterCommit(r) };
      const f = follower(db, [slow], { batchRows: 10, busyShare: 0.01, busyWindowMs: 150, maxLagMs: 600_000 });
      await f.start();
      const busy = setInterval(() => f.wake(), 20); // the commit hook of a busy ingester
      try {
        await expect.poll(() => f.status().yielding, { timeout: 20_000 }).toBe(true);
        const st = f.status();
        expect(st.rows).toBeLessThan(200);
        expect(st.lagMs).toBeGreaterThan(0);
      } finally {
        clearInterval(busy);
      }
      // Ingest idle: no more waiting for a share, everything taken, the lag back to 0.
      await expect.poll(() => a.committed.length, { timeout: 60_000 }).toBe(200);
      await expect.poll(() => f.status().lagMs, { timeout: 10_000 }).toBe(0);
      expect(f.status().yielding).toBe(false);
      expect((await seen(db, 'a')).map((r) => r.id)).toEqual(await ledgerIds(store));
    });

    it('busyLoopShare: it yields while the event loop is busy without it (a saturating ingest burst), not when it is idle', async () => {
      rig = make();
      const { db, store } = await rig.open();
      for (let i = 0; i < 20; i++) await commit(store, ...Array.from({ length: 10 }, () => mv()));
      const a = recorder('a');
      const slow: LedgerConsumer = { name: 'a', apply: async (tx, rows) => (await new Promise((r) => setTimeout(r, 20)), a.apply(tx, rows)), afterCommit: (r) => a.afterCommit(r) };
      const f = follower(db, [slow], { batchRows: 10, busyShare: 0.01, busyLoopShare: 0.5, maxLagMs: 600_000 });
      // The thread kept busy (~80%) by other work, as ingest keeps it in a burst.
      const spin = setInterval(() => {
        const end = performance.now() + 8;
        while (performance.now() < end);
      }, 10);
      try {
        await f.start();
        await expect.poll(() => f.status().yielding, { timeout: 20_000 }).toBe(true);
        expect(f.status().rows).toBeLessThan(200);
      } finally {
        clearInterval(spin);
      }
      // The loop idle again: the follower goes on without waiting for its share.
      await expect.poll(() => a.committed.length, { timeout: 60_000 }).toBe(200);
      expect((await seen(db, 'a')).map((r) => r.id)).toEqual(await ledgerIds(store));
    });

    it('busyShare 0: nothing while the loop is busy, until the lag bound; then it catches up while still busy', async () => {
      rig = make();
      const { db, store } = await rig.open();
      for (let i = 0; i < 20; i++) await commit(store, ...Array.from({ length: 10 }, () => mv()));
      const a = recorder('a');
      const hold = follower(db, [recorder('h')], { batchRows: 10, busyShare: 0, busyLoopShare: 0.5, maxLagMs: 600_000 });
      const bounded = follower(db, [a], { name: 'bounded', batchRows: 10, busyShare: 0, busyLoopShare: 0.5, maxLagMs: 1500 });
      // The thread never idle, as a saturating ingest burst keeps it: 5 ms spins chained with
      // setImmediate (timers and I/O still run between them), busy whatever the machine's load.
      let spinning = true;
      const spin = () => {
        const end = performance.now() + 5;
        while (performance.now() < end);
        if (spinning) setImmediate(spin);
      };
      spin();
      try {
        await hold.start();
        await expect.poll(() => hold.status().yielding, { timeout: 20_000 }).toBe(true);
        const rows0 = hold.status().rows;
        expect(rows0).toBeLessThan(200);
        // Control: the bounded one, same load, same share, does take everything (past 1.5 s behind).
        await bounded.start();
        await expect.poll(() => a.committed.length, { timeout: 60_000 }).toBe(200);
        // The one without a reachable bound took nothing meanwhile, and says why.
        expect(hold.status().rows).toBe(rows0);
        expect(hold.status().yielding).toBe(true);
        expect(hold.status().lagMs).toBeGreaterThan(0);
      } finally {
        spinning = false;
      }
      expect((await seen(db, 'a')).map((r) => r.id)).toEqual(await ledgerIds(store));
      expect(await seen(db, 'h')).toEqual([]);
    });

    it('sliceMs: while ingest commits, batches of about sliceMs (adapted, at least 8 rows), back to back; quiet, whole batches; exactly once', async () => {
      rig = make();
      const { db, store } = await rig.open();
      for (let i = 0; i < 30; i++) await commit(store, ...Array.from({ length: 10 }, () => mv()));
      // ~0.5 ms of this thread per row: a batch of 100 rows would hold ingest ~50 ms.
      const sizes = (name: string) => {
        const r = recorder(name);
        const per: number[] = [];
        const c: LedgerConsumer = {
          name,
          apply: async (tx, rows) => {
            per.push(rows.length);
            const end = performance.now() + 0.5 * rows.length;
            while (performance.now() < end);
            await r.apply(tx, rows);
          },
          afterCommit: (rows) => r.afterCommit(rows),
        };
        return { c, per, r };
      };
      // minGapMs 1 s: had the slices been minGapMs apart, 300 rows in slices of 8-32 would take 10-40 s.
      const opts = { batchRows: 100, minGapMs: 1000, busyWindowMs: 60_000 };
      const sliced = sizes('sliced');
      const fs = follower(db, [sliced.c], { ...opts, name: 'sliced', sliceMs: 2 });
      const whole = sizes('whole');
      const fw = follower(db, [whole.c], { ...opts, name: 'whole' });
      fs.wake('commit'); // ingest active (a local commit within busyWindowMs)
      fw.wake('commit');
      await fs.start();
      await fw.start();
      await expect.poll(() => sliced.r.committed.length, { timeout: 60_000 }).toBe(300);
      await expect.poll(() => whole.r.committed.length, { timeout: 60_000 }).toBe(300);
      if (rig.dialect === 'postgres') {
        // Ignored on PostgreSQL (the batch awaits the server between statements: ingest gets the loop).
        expect(sliced.per).toEqual([100, 100, 100]);
        return;
      }
      // The first slice is 32 rows (~16 ms here), then sized down to the 8-row floor.
      expect(sliced.per[0]).toBe(32);
      expect(Math.max(...sliced.per.slice(1))).toBeLessThanOrEqual(16);
      expect(sliced.per.slice(-4, -1)).toEqual([8, 8, 8]);
      // Control: without sliceMs, whole batches of batchRows.
      expect(whole.per).toEqual([100, 100, 100]);
      for (const name of ['sliced', 'whole']) expect((await seen(db, name)).map((r) => r.id)).toEqual(await ledgerIds(store));

      // Ingest quiet (no local commit within busyWindowMs): a catch-up in whole batches, sliceMs or not.
      const quiet = sizes('quiet');
      const fq = follower(db, [quiet.c], { ...opts, busyWindowMs: 100, minGapMs: 0, name: 'quiet', sliceMs: 2 });
      await fq.start();
      await expect.poll(() => quiet.r.committed.length, { timeout: 60_000 }).toBe(300);
      expect(quiet.per).toEqual([100, 100, 100]);
    });

    it.skipIf(make().dialect !== 'sqlite')('sliceMs: a loop that becomes busy ends a run of slices; then it yields (busyShare) as without slices', async () => {
      rig = make();
      const { db, store } = await rig.open();
      for (let i = 0; i < 40; i++) await commit(store, ...Array.from({ length: 10 }, () => mv()));
      const a = recorder('a');
      let spin: NodeJS.Timeout | undefined;
      // ~0.5 ms of this thread per row: slices of 8 rows, a run of 50 of them over the 400 rows.
      // Once it has started, ingest commits (its hook wakes the follower) and keeps the thread ~80% busy.
      const c: LedgerConsumer = {
        name: 'a',
        apply: async (tx, rows) => {
          spin ??= setInterval(() => {
            f.wake();
            const end = performance.now() + 8;
            while (performance.now() < end);
          }, 10);
          const end = performance.now() + 0.5 * rows.length;
          while (performance.now() < end);
          await a.apply(tx, rows);
        },
        afterCommit: (rows) => a.afterCommit(rows),
      };
      const f = follower(db, [c], { batchRows: 100, busyShare: 0.01, busyLoopShare: 0.5, maxLagMs: 600_000, sliceMs: 1 });
      f.wake('commit');
      try {
        await f.start();
        // (`yielding` is also true while it measures the loop before its first batch: only once the burst began counts.)
        await expect.poll(() => spin !== undefined && f.status().yielding, { timeout: 20_000 }).toBe(true);
        // It stopped in the run, not after it (without the check the run goes on to the end).
        expect(f.status().rows).toBeLessThan(400);
      } finally {
        clearInterval(spin);
      }
      await expect.poll(() => a.committed.length, { timeout: 60_000 }).toBe(400);
      expect((await seen(db, 'a')).map((r) => r.id)).toEqual(await ledgerIds(store));
    });

    it.skipIf(make().dialect !== 'sqlite')('a batch woken by a commit starts two loop turns later: the acks of that commit, written in a setImmediate by aedes, go first', async () => {
      rig = make();
      const { db, store } = await rig.open();
      const order: string[] = [];
      const a = recorder('a');
      const f = follower(db, [{ name: 'a', apply: async (tx, rows) => (order.push('batch'), a.apply(tx, rows)) }]);
      await f.start();
      await f.caughtUp();
      await commit(store, mv());
      // The ingester after a commit: the ack's publish (a promise chain ending in aedes's
      // setImmediate write, lib/client.js), then the commit hook wakes the follower.
      void Promise.resolve()
        .then(() => Promise.resolve())
        .then(() => setImmediate(() => order.push('ack write')));
      f.wake();
      await expect.poll(() => order.length).toBe(2);
      // On SQLite a batch is a chain of microtasks: started at once, it ran before the write.
      expect(order).toEqual(['ack write', 'batch']);
    });

    it('the lag bound: behind for maxLagMs, it stops yielding to a busy ingester until it has caught up', async () => {
      rig = make();
      const { db, store } = await rig.open();
      for (let i = 0; i < 20; i++) await commit(store, ...Array.from({ length: 10 }, () => mv()));
      const a = recorder('a');
      // The bound already passed when it starts behind: it never waits for a share.
      const f = follower(db, [a], { batchRows: 10, busyShare: 0.01, busyWindowMs: 60_000, maxLagMs: 0 });
      let yielded = false;
      const busy = setInterval(() => {
        f.wake();
        // Caught up, it may wait for its share again (the next batch would be small): only while behind counts.
        if (a.committed.length < 200) yielded ||= f.status().yielding;
      }, 5);
      try {
        await f.start();
        await expect.poll(() => a.committed.length, { timeout: 60_000 }).toBe(200);
      } finally {
        clearInterval(busy);
      }
      expect(yielded).toBe(false);
      expect((await seen(db, 'a')).map((r) => r.id)).toEqual(await ledgerIds(store));
    });

    if (make === pgRig) {
      it('several followers on one PostgreSQL (several ingesters): each row applied once while they race', async () => {
        rig = make();
        const procs = await Promise.all([rig.open(), rig.open(), rig.open()]);
        const fs = procs.map((p) => follower(p.db, [recorder('a'), recorder('b')], { batchRows: 7, pollMs: 20 }));
        await Promise.all(fs.map((f) => f.start()));
        // Commits of three sites from three "ingesters" at once, while the followers run.
        await Promise.all(
          procs.map(async (p, i) => {
            for (let k = 0; k < 5; k++) await commit(p.store, mv({ site: `site-${i}` }), mv({ site: `site-${(i + 1) % 3}` }));
          }),
        );
        for (const f of fs) await f.caughtUp();
        const ids = await ledgerIds(procs[0]!.store);
        expect(ids).toHaveLength(30);
        for (const c of ['a', 'b']) expect((await seen(procs[0]!.db, c)).map((r) => r.id).sort()).toEqual([...ids].sort());
        for (const f of fs) expect(f.status().failing).toBeUndefined();
      });
    }
  });
}
