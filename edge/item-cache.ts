import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { z } from 'zod';
import { ItemRecord, refineEdgeSettings } from '../protocols/mqtt/index.js';
import { ConfigError } from './config.js';

/** An item as the edge knows it offline. */
export interface CachedItem {
  sku: string;
  gtin?: string;
  uom?: string;
  unitWeightKg?: number;
  serialised?: boolean;
  /**
   * `remote` (the operator's remote config `items`) wins over `local` (`--items FILE`, config
   * file), which wins over `master` (the cloud's item master snapshot, `.../items`): the cloud
   * fills in what the operator's lists do not say and never overrides them.
   */
  source: ItemSource;
}

export type ItemSource = 'remote' | 'local' | 'master';

/** What the workflows need from the cache (a Map in unit tests). */
export interface ItemLookup {
  bySku(sku: string): CachedItem | undefined;
  byGtin(gtin: string): CachedItem | undefined;
  /** Items known; 0 means "no item master yet" (nothing is refused as unknown then). */
  size(): number;
}

interface Row {
  sku: string;
  source: ItemSource;
  gtin: string | null;
  uom: string | null;
  unit_weight_kg: number | null;
  serialised: number;
}

/** The operator's lists first (remote config, then local), the cloud's item master last. */
const PRECEDENCE = `CASE source WHEN 'remote' THEN 0 WHEN 'local' THEN 1 ELSE 2 END`;

const toItem = (r: Row | undefined): CachedItem | undefined => {
  if (!r) return undefined;
  const i: CachedItem = { sku: r.sku, source: r.source };
  if (r.gtin !== null) i.gtin = r.gtin;
  if (r.uom !== null) i.uom = r.uom;
  if (r.unit_weight_kg !== null) i.unitWeightKg = r.unit_weight_kg;
  if (r.serialised) i.serialised = true;
  return i;
};

/**
 * The offline item cache (table `items` in `state.db`): sku, GTIN, uom, unit weight and whether
 * the item is serialised, so GS1 scans map to skus, weigh stations count by unit weight and
 * serialised items are checked while the cloud is unreachable. Three sources, each replaced as a
 * whole: `remote` (the `items` of the operator's remote config), `local` (`--items FILE` and
 * `items` in the config file) and `master` (the cloud's item master snapshot on `.../items`,
 * `item-master-feed.ts`). A lookup prefers remote, then local, then master.
 */
export class ItemCache implements ItemLookup {
  private readonly s;
  private readonly replaceTx;
  private total: number;

  constructor(db: Database.Database) {
    this.s = {
      bySku: db.prepare(`SELECT * FROM items WHERE sku = ? ORDER BY ${PRECEDENCE} LIMIT 1`),
      byGtin: db.prepare(`SELECT * FROM items WHERE gtin = ? ORDER BY ${PRECEDENCE} LIMIT 1`),
      clear: db.prepare('DELETE FROM items WHERE source = ?'),
      insert: db.prepare(
        'INSERT INTO items (sku, source, gtin, uom, unit_weight_kg, serialised, description) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      count: db.prepare('SELECT COUNT(*) FROM items').pluck(),
      countBy: db.prepare('SELECT COUNT(*) FROM items WHERE source = ?').pluck(),
      getHash: db.prepare('SELECT value FROM state_meta WHERE key = ?').pluck(),
      setHash: db.prepare('INSERT INTO state_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
    };
    this.replaceTx = db.transaction((source: ItemSource, items: readonly ItemRecord[], hash: string) => {
      this.s.clear.run(source);
      for (const i of items) {
        this.s.insert.run(i.sku, source, i.gtin ?? null, i.uom ?? null, i.unitWeightKg ?? null, i.serialised ? 1 : 0, i.description ?? null);
      }
      this.s.setHash.run(`items.${source}`, hash);
    });
    this.total = this.s.count.get() as number;
  }

  /**
   * Replace one source's items (one transaction). Returns whether anything changed: the same list
   * again (a retained config delivered on every reconnect) costs a hash, not a rewrite.
   */
  replace(source: ItemSource, items: readonly ItemRecord[]): boolean {
    const hash = createHash('sha256').update(JSON.stringify(items)).digest('hex');
    if (this.s.getHash.get(`items.${source}`) === hash) return false;
    this.replaceTx(source, items, hash);
    this.total = this.s.count.get() as number;
    return true;
  }

  bySku(sku: string): CachedItem | undefined {
    return toItem(this.s.bySku.get(sku) as Row | undefined);
  }

  byGtin(gtin: string): CachedItem | undefined {
    return toItem(this.s.byGtin.get(gtin) as Row | undefined);
  }

  size(): number {
    return this.total;
  }

  counts(): { remote: number; local: number; master: number } {
    return { remote: this.s.countBy.get('remote') as number, local: this.s.countBy.get('local') as number, master: this.s.countBy.get('master') as number };
  }
}

const ItemsFile = z.union([z.array(ItemRecord), z.strictObject({ items: z.array(ItemRecord) })]);

/** Read `--items FILE`: a JSON array of items, or `{"items":[...]}`. Errors name the file and the field. */
export function readItemsFile(path: string): ItemRecord[] {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`items file ${path}: ${(err as Error).message}`);
  }
  const r = ItemsFile.safeParse(value);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new ConfigError(`items file ${path}: ${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  const items = Array.isArray(r.data) ? r.data : r.data.items;
  const dup = z.unknown().superRefine((_, ctx) => refineEdgeSettings({ items }, ctx)).safeParse(null);
  if (!dup.success) throw new ConfigError(`items file ${path}: ${dup.error.issues[0]!.message}`);
  return items;
}

/** A lookup over a plain list (tests, and the agent before the cache opens). */
export class MemoryItems implements ItemLookup {
  private readonly sku = new Map<string, CachedItem>();
  private readonly gtin = new Map<string, CachedItem>();

  constructor(items: ReadonlyArray<ItemRecord & { source?: ItemSource }> = []) {
    for (const i of items) {
      const c: CachedItem = { ...i, source: i.source ?? 'remote' };
      this.sku.set(i.sku, c);
      if (i.gtin) this.gtin.set(i.gtin, c);
    }
  }

  bySku(sku: string): CachedItem | undefined {
    return this.sku.get(sku);
  }

  byGtin(gtin: string): CachedItem | undefined {
    return this.gtin.get(gtin);
  }

  size(): number {
    return this.sku.size;
  }
}
