import { type Kysely, sql } from 'kysely';

/**
 * What a COMMIT on this connection or transaction will do, read inside it: SQLite's
 * `synchronous` level ('2' FULL: the WAL is fsync'd; '1' NORMAL: it is not), PostgreSQL's
 * `synchronous_commit` ('on' / 'off'). For the tests of `Db.tx(fn, { durable })`.
 */
export async function commitLevel(q: Kysely<any>, dialect: 'sqlite' | 'postgres'): Promise<string> {
  if (dialect === 'sqlite') return String(((await sql`PRAGMA synchronous`.execute(q)).rows[0] as { synchronous: number }).synchronous);
  return String(((await sql`SHOW synchronous_commit`.execute(q)).rows[0] as { synchronous_commit: string }).synchronous_commit);
}
