import type Database from 'better-sqlite3';
import { ItemMasterSnapshot, describeIssue } from '../protocols/mqtt/index.js';
import type { ItemCache } from './item-cache.js';

export type ItemMasterOutcome =
  | { result: 'applied'; version: number; items: number }
  | { result: 'ignored'; reason: string }
  | { result: 'rejected'; error: string; version: number };

/**
 * The cloud's item master, fed into the edge's item cache (issue 9, part 4: "the edge's item
 * cache is fed from it through remote config"). Designed so the cloud can never overwrite what
 * an operator configured:
 *
 * - It arrives on its own retained topic, `stockgate/v1/{site}/{edge}/items`
 *   (`ItemMasterSnapshot`), not on `.../config`: the operator's versioned remote config is never
 *   written by the cloud, and its version, rollback and `configError` mean what they meant.
 * - It fills the cache's lowest-precedence source, `master`: for a sku or GTIN the operator's
 *   own lists (remote config `items`, then `--items FILE` / config file) win.
 * - Versioned like the remote config: a snapshot at or below the version held is ignored (the
 *   retained message comes again after every reconnect); each snapshot is complete and replaces
 *   the previous one in one transaction; an invalid one changes nothing and is reported.
 * - Persisted (rows in `items`, version in `state_meta`), so an edge that restarts offline keeps it.
 * - Off with the remote config (`--no-remote-config`): an edge run purely locally takes nothing
 *   from the cloud.
 */
export class ItemMasterFeed {
  private readonly s;
  /** Why the last offered snapshot is not in the cache; undefined when it is. */
  error: string | undefined;

  constructor(
    db: Database.Database,
    private readonly items: ItemCache,
  ) {
    this.s = {
      get: db.prepare(`SELECT value FROM state_meta WHERE key = 'items.master.version'`).pluck(),
      set: db.prepare(`INSERT INTO state_meta (key, value) VALUES ('items.master.version', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`),
    };
  }

  /** Version of the snapshot in the cache (0 = none). */
  get version(): number {
    return Number(this.s.get.get() ?? 0);
  }

  receive(payload: Buffer | string): ItemMasterOutcome {
    const text = typeof payload === 'string' ? payload : payload.toString('utf8');
    if (text.length === 0) return { result: 'ignored', reason: 'empty payload (retained snapshot cleared): keeping the cached item master' };
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return this.refuse(`invalid JSON: ${(err as Error).message}`);
    }
    const parsed = ItemMasterSnapshot.safeParse(value);
    if (!parsed.success) return this.refuse(`invalid: ${describeIssue(parsed.error)}`);
    const snap = parsed.data;
    if (snap.version <= this.version) return { result: 'ignored', reason: `version ${snap.version} is not newer than ${this.version}` };
    this.items.replace('master', snap.items);
    this.s.set.run(String(snap.version));
    this.error = undefined;
    return { result: 'applied', version: snap.version, items: snap.items.length };
  }

  private refuse(why: string): ItemMasterOutcome {
    this.error = `item master snapshot ${why}; keeping version ${this.version}`;
    return { result: 'rejected', error: this.error, version: this.version };
  }
}
