import { type Compilable, CompiledQuery, type Kysely, type QueryResult, type RawBuilder } from 'kysely';
import { DbError } from './db.js';

/** A transaction, or the database outside one (a repo's reads from the API). */
type Q = Kysely<any>;
/** What a reusable query runs on: a transaction or the database (only these two of its methods are called on it, and `build` gets it whole). */
export type QueryRunner = Pick<Kysely<any>, 'getExecutor' | 'executeQuery'>;

/**
 * A Kysely query built and compiled once per shape, then run with new values.
 *
 * Why: Kysely builds an immutable operation tree and compiles it to SQL on every call, and for the
 * small queries the ledger follower and its consumers run in every batch that is most of the cost:
 * a 3-condition SELECT took 8.8 µs to build and compile against 3.3 µs to run through Kysely with
 * its statement kept (0.8 µs in better-sqlite3 itself), a 6-row upsert 29 against 11 (CPU, this
 * machine, in a transaction). At 10 rows a batch (the follower's short batches while ingest is
 * active) Kysely's build and compile were 25% of the business layer's CPU (bench/README.md, "The
 * business layer"). Kysely has no prepared queries of its own; this keeps it the one query layer
 * (the SQL is still Kysely's, per dialect) and skips the rebuild.
 *
 * How: the arguments are walked once per call into their leaves (the values) and a shape key
 * (array lengths, object keys in order, and which leaves are undefined, null, booleans, '' or 0).
 * The first call of a shape runs `build` with each other leaf replaced by a marker and compiles it;
 * the compiled parameters that are markers say which leaf goes where, the others are the builder's
 * own constants. Later calls of that shape bind their leaves into the kept SQL.
 *
 * The rule for `build`: its SQL may depend on the arguments only through what the shape holds.
 * Values go where Kysely makes them parameters (`where`, `values`, `set`, `limit`, `${}` in a
 * `sql` template), never into `sql.raw`/`sql.lit`/identifiers, and are not computed with or
 * compared: a marker throws when turned into a number or a string (`x + 1`, `` `${x}` ``, `x < y`),
 * and a first build whose markers are not all parameters throws `SG_ERR_DB_REUSABLE`. A truthiness
 * test (`x ? a : b`, `x ?? y`) is safe: falsy values (but NaN and 0n) are part of the shape. An
 * equality test on a value (`x === 'receive'`) is not detected: branch outside, with two reusable
 * queries.
 *
 * The SQL differs per dialect: shapes are kept per dialect adapter (`tx.getExecutor().adapter`),
 * at most `MAX_SHAPES` each (oldest dropped): every row count of a multi-row insert is a shape.
 */
export function reusable<A extends unknown[], R = unknown>(name: string, build: (tx: Q, ...args: A) => Buildable<R>, opts: ReusableOptions = {}): (tx: QueryRunner, ...args: A) => Promise<QueryResult<R>> {
  const byAdapter = new WeakMap<object, Map<string, Shape>>();
  const nulls = opts.nullIsValue === true;
  // async: a refused argument (a function) rejects like a failed query instead of throwing.
  return async (tx, ...args) => {
    const walk: Walk = { key: '', leaves: [], nulls };
    for (const a of args) shapeOf(a, walk);
    const adapter = tx.getExecutor().adapter as object;
    let shapes = byAdapter.get(adapter);
    if (!shapes) byAdapter.set(adapter, (shapes = new Map()));
    let shape = shapes.get(walk.key);
    if (shape) {
      // Most recently used last: the oldest is the one dropped.
      shapes.delete(walk.key);
    } else {
      shape = compileShape(name, tx as Q, build, args, walk.leaves.length, nulls);
      reusableStats.compiles++;
      if (shapes.size >= MAX_SHAPES) shapes.delete(shapes.keys().next().value!);
    }
    shapes.set(walk.key, shape);
    const params = new Array<unknown>(shape.slots.length);
    for (let i = 0; i < params.length; i++) {
      const s = shape.slots[i]!;
      params[i] = s >= 0 ? walk.leaves[s] : shape.constants[i];
    }
    return tx.executeQuery<R>(CompiledQuery.raw(shape.sql, params) as CompiledQuery<R>);
  };
}

export interface ReusableOptions {
  /**
   * A null is a value like any other (bound as a parameter), not part of the shape. For a builder
   * that hands rows straight to `values()` and never looks at them: the rows of a multi-row insert
   * with nullable columns would otherwise make a shape per pattern of nulls. Never with a builder
   * that tests for null (`x ?? y`, `x === null`) or passes an argument to `is` / `is not`
   * (Kysely writes a literal `null` there).
   */
  nullIsValue?: boolean;
}

/** Shapes compiled since start, by every reusable query (tests, bench). */
export const reusableStats = { compiles: 0 };

/** A query builder, or a `sql` template (compiled against the transaction). */
export type Buildable<R> = Compilable<R> | RawBuilder<R>;

/** Shapes kept per query and dialect. */
const MAX_SHAPES = 256;

interface Shape {
  sql: string;
  /** Per compiled parameter: the leaf it binds, or -1 for the builder's constant at the same index of `constants`. */
  slots: number[];
  constants: unknown[];
}

interface Walk {
  key: string;
  leaves: unknown[];
  /** `ReusableOptions.nullIsValue`. */
  nulls: boolean;
}

/** Stands for leaf `i` while the shape is built. */
class Marker {
  constructor(
    readonly i: number,
    private readonly query: string,
  ) {}
  [Symbol.toPrimitive](): never {
    throw new DbError('SG_ERR_DB_REUSABLE', `reusable query ${this.query}: argument value ${this.i} was converted (arithmetic, a comparison or a string) in its builder`);
  }
}

const isPlain = (v: object): boolean => {
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
};

/** Appends `v`'s shape to the key and its leaves (values bound as parameters) to the list. */
function shapeOf(v: unknown, w: Walk): void {
  if (v === undefined) w.key += 'u';
  else if (v === null && !w.nulls) w.key += 'n';
  else if (v === true) w.key += 't';
  else if (v === false) w.key += 'f';
  else if (v === '') w.key += 'e';
  else if (v === 0) w.key += '0';
  else if (typeof v === 'function' || typeof v === 'symbol') throw new DbError('SG_ERR_DB_REUSABLE', `a reusable query's argument holds a ${typeof v}: only values, arrays and plain objects`);
  else if (Array.isArray(v)) {
    w.key += `[${v.length}`;
    for (const x of v) shapeOf(x, w);
    w.key += ']';
  } else if (v !== null && typeof v === 'object' && isPlain(v)) {
    w.key += '{';
    for (const k in v) {
      // Length-prefixed: no column name can make two shapes one key.
      w.key += `${k.length}:${k}`;
      shapeOf((v as Record<string, unknown>)[k], w);
    }
    w.key += '}';
  } else {
    w.key += '.';
    w.leaves.push(v);
  }
}

/** `v` with each leaf replaced by its marker, in the walk's order (`next` counts leaves). */
function marked(v: unknown, next: { i: number; query: string; nulls: boolean }): unknown {
  if (v === undefined || (v === null && !next.nulls) || v === true || v === false || v === '' || v === 0) return v;
  if (Array.isArray(v)) return v.map((x) => marked(x, next));
  if (v !== null && typeof v === 'object' && isPlain(v)) {
    const o: Record<string, unknown> = {};
    for (const k in v) o[k] = marked((v as Record<string, unknown>)[k], next);
    return o;
  }
  return new Marker(next.i++, next.query);
}

function compileShape<A extends unknown[], R>(name: string, tx: Q, build: (tx: Q, ...args: A) => Buildable<R>, args: A, leaves: number, nulls: boolean): Shape {
  const next = { i: 0, query: name, nulls };
  // A builder's compile() takes no argument, a RawBuilder's takes the executor provider.
  const compiled = (build(tx, ...(args.map((a) => marked(a, next)) as A)) as RawBuilder<R>).compile(tx);
  const slots: number[] = [];
  const constants: unknown[] = [];
  const bound = new Set<number>();
  for (const p of compiled.parameters) {
    if (p instanceof Marker) {
      slots.push(p.i);
      bound.add(p.i);
      constants.push(undefined);
    } else {
      slots.push(-1);
      constants.push(p);
    }
  }
  if (bound.size !== leaves) {
    const lost = Array.from({ length: leaves }, (_, i) => i).filter((i) => !bound.has(i));
    throw new DbError('SG_ERR_DB_REUSABLE', `reusable query ${name}: argument value(s) ${lost.join(', ')} did not become parameters of its SQL (used outside a parameter: raw SQL, an identifier, or a branch)`);
  }
  return { sql: compiled.sql, slots, constants };
}
