import { createHash } from 'node:crypto';
import { API_EDGE, type LedgerRow } from '../store/store.js';

/**
 * REST idempotency with content (issue 8 #7, after Stripe's idempotency keys): a movement id
 * re-posted with the same content answers `duplicate`; with other content, 409
 * `SG_ERR_IDEMPOTENCY_CONFLICT` showing the hash of the original.
 *
 * The content hash is `sha256:` + hex SHA-256 of the movement's canonical JSON, as POSTED (after
 * the schema's defaults, before any storage conversion): the ledger may store quantities in
 * integer thousandths of a base unit (issue 9), so hashing stored numbers would call the same
 * post a conflict. REST entries therefore keep the canonical posted JSON as their ledger `raw`
 * (also the audit trail of "what was posted"), and the original's hash is recomputed from it.
 */

/**
 * Canonical JSON (the RFC 8785 rules that matter for our values): object keys sorted by UTF-16
 * code units, no whitespace, `undefined` members dropped, numbers in ECMAScript shortest form
 * (`1.50` and `1.5` are one number), strings as JSON.stringify escapes them.
 */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'number' && !Number.isFinite(v)) throw new Error('canonicalJson: non-finite number');
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : canonicalJson(x))).join(',')}]`;
  const keys = Object.keys(v)
    .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
}

export function contentHash(canonical: string): string {
  return `sha256:${createHash('sha256').update(canonical, 'utf8').digest('hex')}`;
}

/** Ledger fields that are not posted content (the wire envelope and where/when it was applied). */
const NOT_CONTENT = new Set(['v', 'edge', 'seq', 'pos', 'appliedAt', 'status', 'variance', 'postedBy', 'hash', 'prevHash', 'baseQty', 'baseUom', 'rounding', 'chainN']);

/**
 * The content hash of a stored movement: from the canonical posted JSON kept in `raw` for REST
 * entries; for anything else (an edge's movement, REST rows written before this rule) from the
 * stored fields, which then is the best evidence there is.
 */
export function storedContentHash(row: LedgerRow): string {
  if (row.edge === API_EDGE && row.raw.startsWith('{')) {
    try {
      const posted = JSON.parse(row.raw) as Record<string, unknown>;
      if (posted && typeof posted === 'object' && posted.id === row.id) return contentHash(canonicalJson(posted));
    } catch {
      /* not the posted JSON: fall through */
    }
  }
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) if (!NOT_CONTENT.has(k) && v !== null) fields[k] = v;
  return contentHash(canonicalJson(fields));
}
