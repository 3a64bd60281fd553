/**
 * The tamper-evident trail (issue 9): each site's ledger rows form a hash chain. Row n of a site
 * stores `hash_n = SHA-256(hash_{n-1} || canonical bytes of row n)`, with hash_0 = 32 zero bytes
 * (hashes are kept as 64 lower-case hex characters; the 32 raw bytes are hashed).
 *
 * Canonical bytes of a row: the UTF-8 bytes of the JSON array (JSON.stringify, no spaces) of
 * these columns, in this order, absent values as `null`, quantities as integer thousandths:
 *
 *   [chain_n, id, edge, seq, ts, site, location, to_location, kind, sku, gtin, epc, batch,
 *    expiry, serial, qty, uom, base_qty, base_uom, rounding, project, stage, operator, crew,
 *    device_id, device_type, raw, status, variance, posted_token, posted_user, applied_at]
 *
 * A row naming a business document (`po`, `req`, `sales_order`: issue 10 §3) appends those three
 * after `applied_at`: `[..., applied_at, po, req, sales_order]`. Rows without any keep the
 * 32-column form, so the chains of earlier rows are unchanged.
 *
 * `pos` (the global ledger position) is not hashed: it is assigned by the database at insert;
 * `chain_n` (1, 2, ... per site) orders the chain. Anyone holding the rows can recompute it.
 */
import { hash } from 'node:crypto';

export const GENESIS = '0'.repeat(64);

/** The hashed columns of a ledger row (database column names). */
export interface ChainRow {
  chain_n: number;
  id: string;
  edge: string;
  seq: number;
  ts: string;
  site: string;
  location: string;
  to_location: string | null;
  kind: string;
  sku: string;
  gtin: string | null;
  epc: string | null;
  batch: string;
  expiry: string | null;
  serial: string | null;
  qty: number;
  uom: string;
  base_qty: number | null;
  base_uom: string | null;
  rounding: string | null;
  project: string;
  stage: string | null;
  operator: string | null;
  crew: string | null;
  device_id: string;
  device_type: string;
  raw: string;
  status: string;
  variance: number | null;
  posted_token: string | null;
  posted_user: string | null;
  applied_at: string;
  /** Document refs, hashed only when one is set (see above). */
  po?: string | null;
  req?: string | null;
  sales_order?: string | null;
}

export const CHAIN_COLUMNS = [
  'chain_n', 'id', 'edge', 'seq', 'ts', 'site', 'location', 'to_location', 'kind', 'sku', 'gtin', 'epc', 'batch',
  'expiry', 'serial', 'qty', 'uom', 'base_qty', 'base_uom', 'rounding', 'project', 'stage', 'operator', 'crew',
  'device_id', 'device_type', 'raw', 'status', 'variance', 'posted_token', 'posted_user', 'applied_at',
] as const satisfies ReadonlyArray<keyof ChainRow>;

/** The canonical JSON text of a row (see the file comment). */
export function canonicalText(r: ChainRow | Record<string, unknown>): string {
  const row = r as Record<string, unknown>;
  // One array reused row after row (the hash is synchronous); JSON.stringify writes it faster
  // than any hand-built string we measured (bench/README.md, issue 9).
  for (let i = 0; i < CHAIN_COLUMNS.length; i++) values[i] = row[CHAIN_COLUMNS[i]!] ?? null;
  if (row.po != null || row.req != null || row.sales_order != null) {
    return JSON.stringify([...values, row.po ?? null, row.req ?? null, row.sales_order ?? null]);
  }
  return JSON.stringify(values);
}
const values: unknown[] = new Array(CHAIN_COLUMNS.length);

export function canonical(r: ChainRow | Record<string, unknown>): Buffer {
  return Buffer.from(canonicalText(r), 'utf8');
}

/**
 * Scratch bytes of (previous hash || canonical bytes), reused row after row: the chain is hashed
 * on the ingest hot path, where two Buffers and their concatenation per row cost as much as the
 * SHA-256 itself (bench, issue 9). Same bytes, same hashes as before.
 */
let scratch = Buffer.allocUnsafe(16 * 1024);

export function chainHash(prevHex: string, r: ChainRow | Record<string, unknown>): string {
  const text = canonicalText(r);
  // A UTF-16 code unit is at most 3 UTF-8 bytes.
  if (32 + text.length * 3 > scratch.length) scratch = Buffer.allocUnsafe(32 + text.length * 3);
  scratch.write(prevHex, 0, 32, 'hex');
  const n = scratch.write(text, 32, 'utf8');
  return hash('sha256', scratch.subarray(0, 32 + n), 'hex');
}

export interface VerifyResult {
  ok: boolean;
  checked: number;
  brokenAt: { pos: number; id: string } | null;
}

/**
 * Recompute a site's chain from its rows in chain order (`chain_n` ascending, with `pos` and
 * `hash`); the first row whose number or hash does not follow is where it broke.
 */
export class ChainVerifier {
  private prev = GENESIS;
  private n = 0;
  checked = 0;
  brokenAt: VerifyResult['brokenAt'] = null;

  /** Feed the next row; false once broken (stop feeding). */
  push(row: Record<string, unknown>): boolean {
    if (this.brokenAt) return false;
    this.checked++;
    const expectN = this.n + 1;
    const h = chainHash(this.prev, row);
    if (Number(row.chain_n) !== expectN || h !== row.hash) {
      this.brokenAt = { pos: Number(row.pos), id: String(row.id) };
      return false;
    }
    this.n = expectN;
    this.prev = h;
    return true;
  }

  /** The result; `head` is the site's recorded chain head, checked against the last row. */
  result(head?: { n: number; hash: string; pos: number; id?: string }): VerifyResult {
    if (!this.brokenAt && head && (head.n !== this.n || head.hash !== this.prev)) {
      // Rows at the end were removed (or the head edited): the break is after the last good row.
      this.brokenAt = { pos: head.pos, id: head.id ?? '' };
    }
    return { ok: this.brokenAt === null, checked: this.checked, brokenAt: this.brokenAt };
  }
}
