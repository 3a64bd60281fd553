/**
 * The movements batch, version 2: the rows form (issue 14 §1, "JSON vs a compact encoding
 * negotiated within the wire contract's versioning").
 *
 * Version 1 (`MovementBatch`, movement.ts) sends one JSON object per movement, its field names
 * repeated in every one and the batch's `v`, `site` and `edge` in every movement again. Version 2
 * names the columns once and sends each movement as a JSON array of their values:
 *
 *     {"v":2,"site":"s1","edge":"e1","sentAt":"…","cols":["id","seq",…],"rows":[["01J…",7,…],…]}
 *
 * - `cols`: 1-23 distinct names of `ROW_COLUMNS` (the fields of a movement but `v`, `site`,
 *   `edge`, which the envelope carries once), in any order.
 * - `rows`: 1-1000 arrays, each with at most one value per column, in their order; `null` is an
 *   absent field (in version 1 an optional field is left out; `null` there is refused), and so is
 *   a column after the row's last value (a row ends at its last present field).
 * - Each row is rebuilt into the version 1 movement object (`v: 1` and the envelope's `site` and
 *   `edge` added) and validated by the same schema, so a movement means the same in both forms and
 *   a refusal names the same field (`rows[3].qty: …`). A row that is not an array, or holds more
 *   values than `cols` names, is refused alone, as a bad movement is in version 1.
 *
 * Why a new version and not an optional field of version 1: a receiver that knows only version 1
 * cannot read it, and fields.ts's rule is that such a message carries a version its receiver
 * refuses with `UNSUPPORTED_VERSION` (an older cloud names no seqs then, so the edge's outbox keeps
 * every movement; the edge goes back to version 1 and resends: edge/publisher.ts).
 *
 * Negotiation (an edge never sends version 2 to a cloud that has not said it reads it):
 * 1. an edge that can send version 2 says so in every batch: `batchVersions: [1, 2]`;
 * 2. a cloud that reads version 2 answers such an edge with `batchVersions: [1, 2]` in its acks,
 *    under the ack's signature (ack-signature.ts: an extra line, only then, so the acks of an edge
 *    that did not ask are byte for byte what an older edge verifies);
 * 3. the edge sends version 2 while the last ack it took said so. An older edge never asks and
 *    never gets the field; an older cloud strips the field (unknown keys are stripped in
 *    version 1) and never offers it.
 *
 * A version 2 batch is itself an ask: the cloud's acks to it carry the offer.
 *
 * What it gives and costs (`npm run bench -- --only wireEncoding`, bench/README.md): 269 -> 152
 * bytes a movement for the bench's movements (a backlog over a site's cellular link moves 43%
 * less), and the cloud's door (guard, JSON.parse, rebuild, validator) about a third less CPU a
 * movement; the edge pays at append, where it stores each movement's row beside its JSON.
 */
import { z } from 'zod';
import { EdgeId, Instant, MAX_BATCH, SCHEMA_VERSION, SiteId } from './fields.js';
import type { MovementBatchEnvelope } from './movement-fast.js';
import { ID_PATTERN, RESERVED_EDGE_IDS } from './topics.js';

/** The `v` of a rows-form batch. */
export const ROWS_BATCH_VERSION = 2 as const;

/** The batch versions this code reads (and an edge built from it can send). */
export const BATCH_VERSIONS: readonly number[] = [SCHEMA_VERSION, ROWS_BATCH_VERSION];

/**
 * The columns a row may carry: the fields of `MovementFields` (movement.ts) but `v`, `site` and
 * `edge`. The edge sends all of them in this order (edge/outbox/sqlite.ts stores each movement's
 * row beside its JSON at append).
 */
export const ROW_COLUMNS = [
  // What every movement has, then the optional fields, the most used first: a row ends at its last
  // present value (see `movementRow`), so a plain scan's row carries no nulls at all.
  'id', 'seq', 'ts', 'location', 'kind', 'qty', 'uom', 'device', 'raw', 'sku', 'operator', 'project', 'stage',
  'crew', 'gtin', 'epc', 'batch', 'expiry', 'serial', 'toLocation', 'po', 'req', 'order',
] as const;
export type RowColumn = (typeof ROW_COLUMNS)[number];
const COLUMN_SET: ReadonlySet<string> = new Set(ROW_COLUMNS);

/** The versions field (`batchVersions`) of a batch or an ack: what its sender reads or sends. */
export const BatchVersions = z.array(z.number().int().positive().max(1000)).min(1).max(8);

/** A rows-form batch (version 2); rows are validated one by one after the envelope. */
export const MovementRowsBatch = z.object({
  v: z.literal(ROWS_BATCH_VERSION),
  site: SiteId,
  edge: EdgeId,
  sentAt: Instant,
  cols: z
    .array(z.enum(ROW_COLUMNS, { error: (i) => `cols: '${String(i.input).slice(0, 40)}' is not a movement column` }))
    .min(1)
    .max(ROW_COLUMNS.length)
    .refine((cs) => new Set(cs).size === cs.length, 'cols: a column is named twice'),
  rows: z.array(z.unknown()).min(1).max(MAX_BATCH),
  batchVersions: BatchVersions.optional(),
});
export interface MovementRowsBatch {
  v: typeof ROWS_BATCH_VERSION;
  site: string;
  edge: string;
  sentAt: string;
  cols: RowColumn[];
  rows: unknown[];
  batchVersions?: number[];
}

// The `Instant` pattern as zod compiled it (the same one movement-fast.ts mirrors).
const INSTANT_PATTERN = (Instant as unknown as { _zod: { def: { pattern: RegExp } } })._zod.def.pattern;

const isId = (x: unknown): x is string => typeof x === 'string' && ID_PATTERN.test(x);

/**
 * `MovementRowsBatch.parse(x)` when the envelope is valid, else `undefined` (run zod for the
 * message naming the field). Per batch, not per movement: kept short rather than exhaustive.
 */
export function fastMovementRowsBatch(x: unknown): MovementRowsBatch | undefined {
  if (typeof x !== 'object' || x === null || Object.getPrototypeOf(x) !== Object.prototype) return undefined;
  const o = x as Record<string, unknown>;
  if (o.v !== ROWS_BATCH_VERSION) return undefined;
  const { site, edge, sentAt, cols, rows, batchVersions } = o;
  if (!isId(site) || !isId(edge) || RESERVED_EDGE_IDS.has(edge)) return undefined;
  if (typeof sentAt !== 'string' || !INSTANT_PATTERN.test(sentAt)) return undefined;
  if (!Array.isArray(cols) || cols.length < 1 || cols.length > ROW_COLUMNS.length) return undefined;
  const seen = new Set<string>();
  for (const c of cols) {
    if (typeof c !== 'string' || !COLUMN_SET.has(c) || seen.has(c)) return undefined;
    seen.add(c);
  }
  if (!Array.isArray(rows) || rows.length < 1 || rows.length > MAX_BATCH) return undefined;
  let versions: number[] | undefined;
  if (batchVersions !== undefined) {
    const v = BatchVersions.safeParse(batchVersions);
    if (!v.success) return undefined;
    versions = v.data;
  }
  const out: MovementRowsBatch = { v: ROWS_BATCH_VERSION, site, edge, sentAt, cols: cols as RowColumn[], rows };
  if (versions) out.batchVersions = versions;
  return out;
}

/** The rows rebuilt as version 1 movement objects, and what was wrong with a row's shape. */
export interface RowsAsMovements {
  movements: Array<Record<string, unknown>>;
  /** Per row: why it is refused before validation (not an array, wrong count), else undefined. */
  problems: Array<string | undefined> | undefined;
}

/**
 * Rebuild each row as the version 1 movement it stands for: `v: 1`, the envelope's `site` and
 * `edge`, and each non-null column. A row of the wrong shape still gives an object with what it
 * holds (so its seq and id can be named in the reject), and a problem that refuses it.
 */
export function rowsToMovements(b: Pick<MovementRowsBatch, 'site' | 'edge' | 'cols' | 'rows'>): RowsAsMovements {
  const { cols, rows, site, edge } = b;
  const width = cols.length;
  const movements = new Array<Record<string, unknown>>(rows.length);
  let problems: Array<string | undefined> | undefined;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const m: Record<string, unknown> = { v: SCHEMA_VERSION, site, edge };
    if (!Array.isArray(r) || r.length > width) {
      (problems ??= new Array<string | undefined>(rows.length))[i] = Array.isArray(r)
        ? `rows[${i}]: ${r.length} values, cols names ${width}`
        : `rows[${i}]: expected an array of at most ${width} values, got ${r === null ? 'null' : typeof r}`;
      if (!Array.isArray(r)) {
        movements[i] = m;
        continue;
      }
    }
    const n = Math.min(width, (r as unknown[]).length);
    for (let k = 0; k < n; k++) {
      const value = (r as unknown[])[k];
      if (value !== null && value !== undefined) m[cols[k]!] = value;
    }
    movements[i] = m;
  }
  return { movements, problems };
}

/**
 * A rows batch whose envelope `fastMovementRowsBatch` (or its schema) took, as the version 1
 * envelope it stands for (what `fastMovementBatch` gives for version 1): the ingester goes on with
 * it as with any version 1 batch, without checking the envelope twice. A version 2 batch is itself
 * an ask: without `batchVersions` it stands for `BATCH_VERSIONS`.
 */
export function rowsAsVersion1(b: MovementRowsBatch): { envelope: MovementBatchEnvelope; problems: RowsAsMovements['problems'] } {
  const { movements, problems } = rowsToMovements(b);
  return { envelope: { v: SCHEMA_VERSION, site: b.site, edge: b.edge, sentAt: b.sentAt, movements, batchVersions: b.batchVersions ?? [...BATCH_VERSIONS] }, problems };
}

/**
 * A movement's row for `cols`: its values in column order, an absent field `null`, ending at the
 * last present one. The edge stores `JSON.stringify` of it beside the movement's JSON.
 */
export function movementRow(m: Readonly<Record<string, unknown>>, cols: readonly RowColumn[] = ROW_COLUMNS): unknown[] {
  let end = cols.length;
  while (end > 0 && m[cols[end - 1]!] === undefined) end--;
  const row = new Array<unknown>(end);
  for (let k = 0; k < end; k++) {
    const v = m[cols[k]!];
    row[k] = v === undefined ? null : v;
  }
  return row;
}
