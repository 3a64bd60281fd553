/**
 * The durable outbound queue of ERP events: `enqueue` inside the caller's transaction, the
 * sender claims due rows with a lease (a crashed sender's claim runs out and the row is sent
 * again: at least once), and records each attempt with the webhooks' backoff.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { ErpEvent, ErpEventKind } from './erp-adapter.js';

type Q = Kysely<any> | Transaction<any>;

/** Queue an event; the same `eventId` twice keeps the first. */
export async function enqueue(tx: Q, e: { eventId?: string; kind: ErpEventKind; docId: string; site?: string | null; body: Record<string, unknown> }, now = Date.now()): Promise<void> {
  await sql`INSERT INTO erp_outbox (event_id, kind, doc_id, site, body, state, attempts, next_at, lease_until, created_at)
    VALUES (${e.eventId ?? `${e.kind}:${e.docId}`}, ${e.kind}, ${e.docId}, ${e.site ?? null}, ${JSON.stringify(e.body)}, 'pending', 0, ${now}, 0, ${new Date(now).toISOString()})
    ON CONFLICT (event_id) DO NOTHING`.execute(tx);
}

/**
 * Queue many events, in order, in multi-row inserts (the ledger consumer: one or a few statements
 * per follower batch instead of one per movement); the same `eventId` twice keeps the first.
 */
export async function enqueueMany(tx: Q, list: ReadonlyArray<{ eventId?: string; kind: ErpEventKind; docId: string; site?: string | null; body: Record<string, unknown> }>, now = Date.now()): Promise<void> {
  const at = new Date(now).toISOString();
  for (let i = 0; i < list.length; i += 100) {
    const values = list.slice(i, i + 100).map((e) => sql`(${e.eventId ?? `${e.kind}:${e.docId}`}, ${e.kind}, ${e.docId}, ${e.site ?? null}, ${JSON.stringify(e.body)}, 'pending', 0, ${now}, 0, ${at})`);
    await sql`INSERT INTO erp_outbox (event_id, kind, doc_id, site, body, state, attempts, next_at, lease_until, created_at)
      VALUES ${sql.join(values)}
      ON CONFLICT (event_id) DO NOTHING`.execute(tx);
  }
}

export interface Claimed extends ErpEvent {
  id: number;
  attempts: number;
}

/** Claim up to `limit` due rows for `leaseMs` (one conditional update each: two senders never take the same row). */
export async function claim(db: Kysely<any>, now: number, leaseMs: number, limit: number): Promise<Claimed[]> {
  const due = await db.selectFrom('erp_outbox').select(['id']).where('state', '=', 'pending').where('next_at', '<=', now).where('lease_until', '<=', now).orderBy('id').limit(limit).execute();
  const out: Claimed[] = [];
  for (const d of due) {
    const r = await sql<any>`UPDATE erp_outbox SET lease_until = ${now + leaseMs} WHERE id = ${d.id} AND state = 'pending' AND lease_until <= ${now} RETURNING *`.execute(db);
    const row = r.rows[0];
    if (row) out.push({ id: Number(row.id), eventId: row.event_id, kind: row.kind, docId: row.doc_id, site: row.site ?? null, body: JSON.parse(row.body), attempts: Number(row.attempts) });
  }
  return out;
}

export async function delivered(db: Kysely<any>, id: number, now: number): Promise<void> {
  await sql`UPDATE erp_outbox SET state = 'delivered', attempts = attempts + 1, lease_until = 0, last_error = NULL, delivered_at = ${new Date(now).toISOString()} WHERE id = ${id}`.execute(db);
}

export async function failed(db: Kysely<any>, id: number, error: string, nextAt: number | undefined): Promise<void> {
  if (nextAt === undefined) await sql`UPDATE erp_outbox SET state = 'failed', attempts = attempts + 1, lease_until = 0, last_error = ${error.slice(0, 500)} WHERE id = ${id}`.execute(db);
  else await sql`UPDATE erp_outbox SET attempts = attempts + 1, next_at = ${nextAt}, lease_until = 0, last_error = ${error.slice(0, 500)} WHERE id = ${id}`.execute(db);
}

export async function outbox(db: Kysely<any>, limit = 100): Promise<Array<{ eventId: string; kind: string; docId: string; state: string; attempts: number; lastError: string | null }>> {
  const rows = await db.selectFrom('erp_outbox').selectAll().orderBy('id', 'desc').limit(limit).execute();
  return rows.map((r) => ({ eventId: r.event_id, kind: r.kind, docId: r.doc_id, state: r.state, attempts: Number(r.attempts), lastError: r.last_error ?? null }));
}
