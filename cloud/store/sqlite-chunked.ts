import type Database from 'better-sqlite3';

/** Rows per statement: 32 x 38 ledger columns stays far below SQLite's 32,766 parameters. */
export const CHUNK_ROWS = 32;
/** Statements kept per writer (one per row count and column pattern; a 32-row ledger statement costs ~130 µs to prepare). */
const MAX_STATEMENTS = 64;

/** How a column of a chunk is written: every row null (a NULL literal), every row the same value (bound once), or per row. */
const NULL = 0x6e; // 'n'
const SAME = 0x63; // 'c'
const EACH = 0x76; // 'v'

/**
 * Many rows per INSERT for the store's group commit (issue 14 §1). better-sqlite3 spends more on
 * binding a value (~25 ns a null or number, ~75 ns a string: converted to UTF-8, then copied by
 * SQLite) than SQLite spends storing it, and a ledger row has 38 of them. So a chunk of rows is one
 * statement in which a column whose value is the same in every row (the edge, the site, the
 * commit's time, mostly the location, kind, device, unit...) is bound once as a named parameter
 * and referenced by every row, and a column null in every row is a NULL literal; only the values
 * that differ are bound per row. A statement is prepared per row count and column pattern and
 * kept (most recently used first); row counts are powers of two up to `CHUNK_ROWS`, so any number
 * of rows is a few statements. Measured on the ledger insert alone (SQL micro-bench, 50k rows,
 * CPU): 5.8 -> 3.5 µs per row.
 *
 * Values are written as given (nothing is converted): the same values in the same columns as one
 * statement per row would write.
 */
export class ChunkedInsert {
  private readonly statements = new Map<string, { stmt: Database.Statement; same: number[]; names: string[] }>();
  private readonly how: Uint8Array;

  /**
   * @param head `INSERT INTO t (a, b, c)`: the columns every row gives, in order.
   * @param tail what follows the VALUES list (an `ON CONFLICT ...` clause), or ''.
   */
  constructor(
    private readonly db: Database.Database,
    private readonly head: string,
    private readonly tail: string,
    private readonly width: number,
  ) {
    this.how = new Uint8Array(width);
  }

  /** Writes `rows` (each `width` values, in the head's column order), in order. */
  write(rows: readonly unknown[][]): void {
    for (let at = 0; at < rows.length; ) {
      let n = CHUNK_ROWS;
      while (n > rows.length - at) n >>= 1;
      this.chunk(rows, at, n);
      at += n;
    }
  }

  private chunk(rows: readonly unknown[][], at: number, n: number): void {
    const w = this.width;
    const how = this.how;
    const first = rows[at]!;
    for (let c = 0; c < w; c++) {
      const v = first[c];
      let same = true;
      for (let q = at + 1; q < at + n; q++) {
        if (rows[q]![c] !== v) {
          same = false;
          break;
        }
      }
      // One row: binding a value once or per row is the same thing; anonymous costs less.
      how[c] = !same ? EACH : v === null ? NULL : n > 1 ? SAME : EACH;
    }
    const key = `${n}:${String.fromCharCode(...how)}`;
    let st = this.statements.get(key);
    if (st) {
      this.statements.delete(key);
      this.statements.set(key, st);
    } else {
      st = this.prepare(n, how);
      this.statements.set(key, st);
      if (this.statements.size > MAX_STATEMENTS) this.statements.delete(this.statements.keys().next().value!);
    }
    const args: unknown[] = [];
    for (let q = at; q < at + n; q++) {
      const r = rows[q]!;
      for (let c = 0; c < w; c++) if (how[c] === EACH) args.push(r[c]);
    }
    if (st.same.length > 0) {
      const named: Record<string, unknown> = {};
      for (let i = 0; i < st.same.length; i++) named[st.names[i]!] = first[st.same[i]!];
      args.push(named);
    }
    st.stmt.run(...args);
  }

  private prepare(n: number, how: Uint8Array): { stmt: Database.Statement; same: number[]; names: string[] } {
    const same: number[] = [];
    const names: string[] = [];
    const cells: string[] = [];
    for (let c = 0; c < this.width; c++) {
      if (how[c] === NULL) cells.push('NULL');
      else if (how[c] === SAME) (same.push(c), names.push(`c${c}`), cells.push(`@c${c}`));
      else cells.push('?');
    }
    const tuple = `(${cells.join(', ')})`;
    const sql = `${this.head} VALUES ${Array.from({ length: n }, () => tuple).join(', ')}${this.tail}`;
    return { stmt: this.db.prepare(sql), same, names };
  }
}
