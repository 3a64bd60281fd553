/**
 * Item master routes (issue 9), a route plugin like those in cloud/api/routes/: zod schemas in
 * `catalogDocs` keep the OpenAPI document generated. The item master is not per-site data
 * (`scope.shared()`): any caller holding a route role may read it; procurement and site managers
 * write it.
 */
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { type ApiDeps, body, Limit, query, READ_ROLES } from '../api/common.js';
import type { RouteDoc } from '../api/openapi.js';
import { type CostContext, redactCost, scope } from '../api/scope.js';
import { actor, audit, auditMany } from '../audit/index.js';
import type { Role } from '../auth/auth.js';
import { Errors } from '../errors.js';
import { ItemCodeConflict } from '../store/ledger-row.js';
import { ImportResult, ItemInput, itemOut, ItemSchema, Sku } from './model.js';
import { CSV_COLUMNS, decodeCsv, fromCsvRow, toCsvRow, toRecord } from './rules.js';

const WRITE_ROLES: readonly Role[] = ['procurement', 'site-manager'];
const ItemsQuery = z.object({ search: z.string().max(100).optional(), limit: Limit(1000, 100), after: z.string().max(64).optional() });
const ImportQuery = z.object({ dryRun: z.enum(['0', '1', 'true', 'false']).optional() });
/** Bounds of an import: bytes (fastify's bodyLimit for the CSV parser), data rows, errors listed. */
const IMPORT_MAX_BYTES = 8 * 1024 * 1024;
const IMPORT_MAX_ROWS = 50_000;
const IMPORT_MAX_ERRORS = 1000;

export const catalogDocs: RouteDoc[] = [
  { method: 'put', path: '/api/v1/items/:sku', tag: 'items', summary: 'Create or replace an item of the master (base uom, GTINs, conversions, unit weight, tracking, shelf life, standard cost)', roles: WRITE_ROLES, body: ItemInput, response: ItemSchema },
  { method: 'get', path: '/api/v1/items', tag: 'items', summary: 'Items whose sku or name contains `search`, by sku (cursor: after=next)', roles: READ_ROLES, query: ItemsQuery, response: z.object({ items: z.array(ItemSchema), next: z.string().nullable() }) },
  { method: 'get', path: '/api/v1/items/:sku', tag: 'items', summary: 'One item of the master', roles: READ_ROLES, response: ItemSchema },
  { method: 'get', path: '/api/v1/exports/items.csv', tag: 'items', summary: `The item master as CSV (UTF-8 with BOM, columns ${CSV_COLUMNS.join(',')}; lists separated by ';', conversions as uom=factor)`, roles: READ_ROLES },
  {
    method: 'post',
    path: '/api/v1/imports/items',
    tag: 'items',
    summary: 'Import items from CSV (UTF-8, UTF-8 with BOM, or GBK as Chinese Excel saves it); any bad row writes nothing (400 with the errors); dryRun=1 only checks',
    roles: WRITE_ROLES,
    query: ImportQuery,
    response: ImportResult,
  },
];

/** `standardCost` is a purchasing price (receipts with no PO are costed at it): admin, finance, procurement see it (issue 10 §5). */
const COST: CostContext = { kind: 'purchasing' };

const skuOf = (req: { params: unknown }) => {
  const r = Sku.safeParse((req.params as { sku?: string }).sku);
  if (!r.success) throw new Errors.BadPath(`sku: ${r.error.issues[0]!.message.replace(/^sku: /, '')}`);
  return r.data;
};

/** Items, CSV export and import. */
export async function catalogRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const repo = deps.store;
  // A CSV upload arrives as bytes: its encoding is decided by us (decodeCsv), not by a charset.
  for (const type of ['text/csv', 'application/octet-stream']) {
    if (!app.hasContentTypeParser(type)) app.addContentTypeParser(type, { parseAs: 'buffer', bodyLimit: IMPORT_MAX_BYTES }, (_req, b, done) => done(null, b));
  }

  app.put('/api/v1/items/:sku', { config: { roles: WRITE_ROLES, scope: scope.shared() } }, async (req) => {
    const sku = skuOf(req);
    const it = body(ItemInput, req);
    const by = actor(req.principal);
    let saved;
    try {
      // The audit row is written in the change's own transaction (issue 10 §5): both or neither.
      saved = await repo.putItem(toRecord(sku, it), (tx, [c]) => audit(tx, { entity: 'item', id: sku, action: c!.before ? 'update' : 'create', by, before: c!.before ? itemOut(c!.before) : null, after: itemOut(c!.after) }));
    } catch (err) {
      if (err instanceof ItemCodeConflict) throw new Errors.Conflict(err.message);
      throw err;
    }
    return redactCost(itemOut(saved), req.scope, COST);
  });

  app.get('/api/v1/items', { config: { roles: READ_ROLES, scope: scope.shared() } }, async (req) => {
    const q = query(ItemsQuery, req);
    const items = await repo.items({ limit: q.limit, ...(q.search ? { search: q.search } : {}), ...(q.after !== undefined ? { after: q.after } : {}) });
    const last = items[items.length - 1];
    return { items: redactCost(items.map(itemOut), req.scope, COST), next: items.length === q.limit && last ? last.sku : null };
  });

  app.get('/api/v1/items/:sku', { config: { roles: READ_ROLES, scope: scope.shared() } }, async (req) => {
    const sku = skuOf(req);
    const it = await repo.item(sku);
    if (!it) throw new Errors.NotFound(`sku: no item ${sku}`);
    return redactCost(itemOut(it), req.scope, COST);
  });

  app.get('/api/v1/exports/items.csv', { config: { roles: READ_ROLES, scope: scope.shared() } }, async (req, reply) => {
    const rows: string[][] = [];
    for (let after: string | undefined; ; ) {
      const page = await repo.items({ limit: 1000, ...(after !== undefined ? { after } : {}) });
      rows.push(...page.map(toCsvRow));
      if (page.length < 1000) break;
      after = page[page.length - 1]!.sku;
    }
    // With a BOM: Excel then opens it as UTF-8 (names in Chinese stay readable).
    reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="items.csv"');
    // A caller who may not see standard costs gets the file without that column (omitted, not blank).
    const keep = CSV_COLUMNS.map((c) => req.scope.seesCost(COST) || c !== 'standardCost');
    const cut = (r: readonly string[]) => r.filter((_, i) => keep[i]);
    return `\uFEFF${stringify([cut(CSV_COLUMNS), ...rows.map(cut)])}`;
  });

  app.post('/api/v1/imports/items', { config: { roles: WRITE_ROLES, scope: scope.shared() }, bodyLimit: IMPORT_MAX_BYTES }, async (req) => {
    const q = query(ImportQuery, req);
    const dryRun = q.dryRun === '1' || q.dryRun === 'true';
    // The file as bytes (text/csv, application/octet-stream), or already text (a JSON string, text/plain).
    const raw = Buffer.isBuffer(req.body) ? req.body : typeof req.body === 'string' ? Buffer.from(req.body, 'utf8') : undefined;
    if (!raw) throw new Errors.BadBody('body: send the CSV file as text/csv (UTF-8, UTF-8 with BOM, or GBK)');
    const { text } = decodeCsv(raw);
    let records: Array<{ record: Record<string, string>; info: { lines: number } }>;
    try {
      records = parse(text, { columns: (h: string[]) => h.map((c) => c.trim()), skip_empty_lines: true, info: true, relax_column_count: false, to: IMPORT_MAX_ROWS + 1 }) as never;
    } catch (err) {
      const e = err as { lines?: number; message: string };
      throw Object.assign(new Errors.BadBody(`csv: ${e.message}`), { details: { rows: 0, errors: [{ line: e.lines ?? 1, field: 'csv', message: e.message }], written: 0 } });
    }
    if (records.length > IMPORT_MAX_ROWS) throw new Errors.BadBody(`csv: more than ${IMPORT_MAX_ROWS} rows; split the file`);
    const header = records[0] ? Object.keys(records[0].record) : [];
    const errors: Array<{ line: number; field: string; message: string }> = [];
    for (const c of ['sku', 'name', 'uom']) if (records.length && !header.includes(c)) errors.push({ line: 1, field: c, message: `${c}: missing column` });
    const unknown = header.filter((c) => !(CSV_COLUMNS as readonly string[]).includes(c));
    for (const c of unknown) errors.push({ line: 1, field: c, message: `${c}: unknown column (expected ${CSV_COLUMNS.join(', ')})` });
    const items: Array<ReturnType<typeof toRecord>> = [];
    const seen = new Map<string, number>();
    for (const { record, info } of records) {
      if (errors.length >= IMPORT_MAX_ERRORS) break;
      const line = info.lines;
      const row = fromCsvRow(record);
      for (const e of row.errors) errors.push({ line, ...e });
      const sku = Sku.safeParse(row.sku);
      if (!sku.success) {
        errors.push({ line, field: 'sku', message: row.sku === '' ? 'sku: empty' : sku.error.issues[0]!.message });
        continue;
      }
      if (seen.has(sku.data)) errors.push({ line, field: 'sku', message: `sku: ${sku.data} already on line ${seen.get(sku.data)}` });
      seen.set(sku.data, line);
      if (row.errors.length) continue;
      const r = ItemInput.safeParse(row.body);
      if (!r.success) {
        for (const i of r.error.issues.slice(0, 5)) {
          const field = String(i.path[0] ?? 'row');
          errors.push({ line, field, message: i.message.startsWith(`${field}:`) ? i.message : `${field}: ${i.message}` });
        }
        continue;
      }
      items.push(toRecord(sku.data, r.data));
    }
    const rows = records.length;
    const fail = (message: string) => Object.assign(new Errors.BadBody(message), { details: { rows, errors: errors.slice(0, IMPORT_MAX_ERRORS), written: 0 } });
    if (errors.length) throw fail(`csv: ${errors.length >= IMPORT_MAX_ERRORS ? `${IMPORT_MAX_ERRORS}+` : errors.length} error(s); nothing written`);
    if (dryRun) return { rows, errors: [], written: 0 };
    const by = actor(req.principal);
    try {
      // Every row's audit entry (with its record before, read in the same transaction) commits
      // with the import or not at all (issue 10 §5).
      await repo.putItems(items, (tx, changes) =>
        auditMany(tx, changes.map((c) => ({ entity: 'item' as const, id: c.sku, action: c.before ? 'import-update' : 'import-create', by, before: c.before ? itemOut(c.before) : null, after: itemOut(c.after) }))),
      );
    } catch (err) {
      if (!(err instanceof ItemCodeConflict)) throw err;
      errors.push({ line: seen.get(err.forSku) ?? 1, field: err.code.startsWith('gtin:') ? 'gtins' : 'epcs', message: err.message });
      throw fail(`csv: ${err.message}; nothing written`);
    }
    return { rows, errors: [], written: items.length };
  });
}
