import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * WAL checkpoints of the cloud's SQLite file on a worker thread, off the event loop.
 *
 * Why: SQLite checkpoints a WAL database inside the COMMIT that takes the WAL past
 * `wal_autocheckpoint` pages (1,000 by default: sqlite.org/wal.html#automatic_checkpoint), on the
 * committing connection. The cloud has one connection, on its event loop, so every ~1,000 pages
 * one commit (an ingest group commit or a ledger-follower batch) also copied those pages into the
 * database file and fsynced both files: 10-25 ms with the loop blocked, where a commit is
 * otherwise 0.3-1 ms. Measured (`npm run bench -- --only business --business-batch 10`, every
 * statement timed): the follower's COMMIT p50 0.28 ms, p99 19 ms, mean 1.0 ms, the checkpoints
 * most of its time; a message that arrives meanwhile waits for it (the 5 ms p99 goal at a paced
 * 5,000/s, bench/README.md).
 *
 * Here a second connection on a worker thread runs `PRAGMA wal_checkpoint(PASSIVE)` every
 * `intervalMs`. A PASSIVE checkpoint takes no writer lock (sqlite.org/c3ref/wal_checkpoint_v2.html):
 * the event loop's commits go on while it copies. The main connection keeps an automatic
 * checkpoint as a backstop, at `backstopPages` instead of 1,000: it bounds the WAL if this thread
 * falls behind or dies, and it is what restarts the WAL from its start (a writer restarts it only
 * when every frame has been copied as its transaction begins, sqlite3.c walRestartLog, which a
 * checkpoint racing the next commit rarely gives); by then the pages have mostly been copied here,
 * so the backstop's copy is short (SQLite copies only frames after `nBackfill`).
 *
 * Durability does not depend on it: a commit is durable by its WAL fsync (`synchronous=FULL`);
 * a checkpoint only moves committed pages into the database file, fsyncing the WAL before and the
 * database after (this connection is `synchronous=FULL` too), so a kill or power cut mid-copy
 * redoes it from the WAL on the next open.
 *
 * Written here, not taken from a library: better-sqlite3 has no background checkpoint, and this is
 * one PRAGMA on a timer (cloud/db/README.md).
 */
export interface WalCheckpointerOptions {
  /** Milliseconds between checkpoints (default 100). */
  intervalMs?: number;
}

export interface WalCheckpointStats {
  /** Checkpoints run on the worker. */
  checkpoints: number;
  /** WAL frames copied into the database file by them (about: a WAL restarted and refilled between two of them is missed). */
  frames: number;
  /** The last one's duration, and the longest, ms. */
  lastMs: number;
  maxMs: number;
  /** Checkpoints that failed (SQLITE_BUSY past the timeout, I/O errors); the worker goes on. */
  failures: number;
  lastError?: string;
  /** The worker is not running (it failed to start or exited): the backstop checkpoints alone. */
  stopped: boolean;
}

/** Pages of WAL after which the main connection checkpoints itself (the backstop). */
export const BACKSTOP_PAGES = 8000;

// The worker's code: CommonJS, no TypeScript, so it runs the same from dist/ and under vitest.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
db.pragma('synchronous = FULL');
const ckpt = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
let prevLog = 0;
let prevDone = 0;
let timer;
function round() {
  const t = performance.now();
  try {
    // [busy, log, checkpointed]: frames in the WAL, and of them copied so far (this call or
    // before). Fewer than last time: a writer restarted the WAL meanwhile.
    const r = ckpt.raw().get();
    const copied = r[1] < prevLog || r[2] < prevDone ? r[2] : r[2] - prevDone;
    prevLog = r[1];
    prevDone = r[2];
    parentPort.postMessage({ ok: true, ms: performance.now() - t, copied });
  } catch (err) {
    parentPort.postMessage({ ok: false, ms: performance.now() - t, error: String(err && err.message || err) });
  }
  timer = setTimeout(round, workerData.intervalMs);
}
parentPort.on('message', (m) => { if (m === 'stop') { clearTimeout(timer); db.close(); parentPort.close(); } });
timer = setTimeout(round, workerData.intervalMs);
`;

export class WalCheckpointer {
  private readonly worker: Worker;
  private readonly s: WalCheckpointStats = { checkpoints: 0, frames: 0, lastMs: 0, maxMs: 0, failures: 0, stopped: false };
  private closing?: Promise<void>;

  constructor(path: string, opts: WalCheckpointerOptions = {}) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER, { eval: true, workerData: { path, driver, intervalMs: opts.intervalMs ?? 100 } });
    // A thread that checkpoints must not keep the process up (close() stops it anyway).
    this.worker.unref();
    this.worker.on('message', (m: { ok: boolean; ms: number; copied?: number; error?: string }) => {
      this.s.lastMs = m.ms;
      if (m.ms > this.s.maxMs) this.s.maxMs = m.ms;
      if (m.ok) {
        this.s.checkpoints++;
        this.s.frames += m.copied ?? 0;
      } else {
        this.s.failures++;
        this.s.lastError = m.error;
      }
    });
    this.worker.on('error', (err) => {
      this.s.stopped = true;
      this.s.lastError = err.message;
    });
    this.worker.on('exit', () => {
      this.s.stopped = true;
    });
  }

  stats(): WalCheckpointStats {
    return { ...this.s };
  }

  /** Stops the worker and closes its connection (before the main connection closes). */
  close(): Promise<void> {
    this.closing ??= this.s.stopped
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          this.worker.once('exit', () => resolve());
          // Unref'd, it would not keep the process up for its own exit.
          this.worker.ref();
          this.worker.postMessage('stop');
          // A checkpoint in progress finishes first; past 10 s the thread is ended.
          const t = setTimeout(() => void this.worker.terminate(), 10_000);
          t.unref();
        });
    return this.closing;
  }
}
