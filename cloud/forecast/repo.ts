/**
 * The issue history of the forecast, read from the ledger by the movements' `ts` (issue 11 §3):
 * applied issues only, in thousandths of the base unit (what was booked).
 */
import { sql, type Kysely, type Transaction } from 'kysely';

type Q = Kysely<any> | Transaction<any>;

/** Issues of a pair between two instants (ms, [lo, hi)), quantities in thousandths. */
export async function issueHistory(db: Q, site: string, sku: string, loMs: number, hiMs: number): Promise<Array<{ ts: string; milli: number }>> {
  const r = await sql<{ ts: string; q: number }>`SELECT ts, COALESCE(base_qty, qty) AS q FROM ledger
    WHERE site = ${site} AND sku = ${sku} AND kind = 'issue' AND status = 'applied' AND ts_ms >= ${loMs} AND ts_ms < ${hiMs}
    ORDER BY ts_ms`.execute(db);
  return r.rows.map((x) => ({ ts: x.ts, milli: Math.abs(Number(x.q)) }));
}

/** SKUs issued at a site in the window, with Σ balances now (thousandths). */
export async function issuedSkus(db: Q, site: string, loMs: number, hiMs: number): Promise<Array<{ sku: string; onHand: number }>> {
  const r = await sql<{ sku: string; on_hand: number | null }>`SELECT l.sku, (SELECT SUM(b.on_hand) FROM balances b WHERE b.site = ${site} AND b.sku = l.sku) AS on_hand
    FROM (SELECT DISTINCT sku FROM ledger WHERE site = ${site} AND kind = 'issue' AND status = 'applied' AND ts_ms >= ${loMs} AND ts_ms < ${hiMs}) l
    ORDER BY l.sku`.execute(db);
  return r.rows.map((x) => ({ sku: x.sku, onHand: Number(x.on_hand ?? 0) }));
}
