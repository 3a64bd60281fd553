import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Ack,
  BATCH_VERSIONS,
  MOVEMENT_KINDS,
  Movement,
  MovementBatch,
  MovementRowsBatch,
  ROW_COLUMNS,
  canonicalAck,
  deriveAckKey,
  describeIssue,
  fastMovement,
  fastMovementBatch,
  fastMovementRowsBatch,
  movementRow,
  rowsAsVersion1,
  rowsToMovements,
  signAck,
  verifyAck,
  type AckContent,
  type RowColumn,
} from '../../../protocols/mqtt/index.js';
import { encodeRowsBatch } from '../../helpers/movements.js';

/**
 * The rows form of a movements batch (version 2, protocols/mqtt/movement-rows.ts): a movement
 * means the same in both forms, the envelope's fast path agrees with its schema, and the ack's
 * offer is signed without changing the acks of an edge that did not ask.
 */
const SITE = 's1';
const EDGE = 'e1';
const AT = '2026-12-07T03:00:00.000Z';

const text = (max: number) => fc.oneof({ weight: 20, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: max }) }, { weight: 1, arbitrary: fc.constantFrom('', 'a\u0000', '\ud800', 'x'.repeat(max + 1), '"\\\n') });
const movementArb = fc.record(
  {
    id: fc.oneof(fc.stringMatching(/^[0-9A-Z]{26}$/), fc.constantFrom('short', 'x'.repeat(65))),
    seq: fc.oneof(fc.integer({ min: 1, max: 1e6 }), fc.constantFrom(0, -1, 1.5, Number.MAX_SAFE_INTEGER)),
    ts: fc.oneof(fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }).map((d) => d.toISOString()), fc.constantFrom('now', '2026-12-07')),
    location: text(64),
    toLocation: text(64),
    kind: fc.oneof(fc.constantFrom(...MOVEMENT_KINDS), fc.constantFrom('steal', '')),
    sku: text(64),
    gtin: fc.constantFrom('09506000134352', '123'),
    batch: text(20),
    expiry: fc.constantFrom('2027-03-31', '2027-02-30', '31/03/2027'),
    qty: fc.oneof(fc.integer({ min: -2000, max: 2000 }).map((m) => m / 1000), fc.constantFrom(1.5, 1e9, 1e9 + 1, 0.0005, 0.1 + 0.2, 0)),
    uom: fc.constantFrom('ea', 'kg', 'm', '', 'x'.repeat(17)),
    project: text(64),
    po: text(64),
    order: text(64),
    device: fc.oneof(fc.record({ id: text(64), type: text(64) }), fc.constantFrom({ id: 'd' }, 'scanner', [1])),
    raw: fc.string({ maxLength: 60 }),
  },
  { requiredKeys: ['id', 'seq', 'ts', 'location', 'kind', 'qty', 'uom', 'device', 'raw'] },
);

/** A version 1 movement of the envelope's edge, as JSON.parse gives it. */
const asV1 = (m: Record<string, unknown>) => JSON.parse(JSON.stringify({ v: 1, site: SITE, edge: EDGE, ...m })) as Record<string, unknown>;
/** The same movement through the rows form: bytes, envelope, rebuilt object. */
const viaRows = (ms: Array<Record<string, unknown>>, cols: readonly RowColumn[] = ROW_COLUMNS) => {
  const body = JSON.parse(encodeRowsBatch(SITE, EDGE, AT, ms, cols)) as unknown;
  const env = fastMovementRowsBatch(body);
  if (!env) throw new Error('envelope refused');
  return rowsToMovements(env);
};

describe('rows form (batch version 2)', () => {
  it('every movement means the same in both forms: same acceptance, same movement, same refusal message', () => {
    fc.assert(
      fc.property(fc.array(movementArb, { minLength: 1, maxLength: 8 }), (ms) => {
        const { movements, problems } = viaRows(ms);
        expect(problems).toBeUndefined();
        ms.forEach((m, i) => {
          const a = Movement.safeParse(asV1(m));
          const b = Movement.safeParse(movements[i]);
          expect(b.success).toBe(a.success);
          if (a.success && b.success) {
            expect(b.data).toStrictEqual(a.data);
            // The ingester's fast path takes the rebuilt object exactly as zod does.
            expect(fastMovement(movements[i], { site: SITE, edge: EDGE })).toStrictEqual(a.data);
          } else if (!a.success && !b.success) expect(describeIssue(b.error)).toBe(describeIssue(a.error));
        });
      }),
      { numRuns: 300, seed: 14 },
    );
  });

  it('movementRow: column order, null for a gap, nothing after the last present value', () => {
    expect(movementRow({ id: 'a', seq: 1, operator: 'op', colour: 'red' }, ['id', 'seq', 'ts', 'operator', 'project'])).toEqual(['a', 1, null, 'op']);
    expect(movementRow({}, ['id'])).toEqual([]);
    const m = { id: 'a', seq: 1, ts: AT, location: 'L', kind: 'receive', qty: 1, uom: 'ea', device: { id: 'd', type: 't' }, raw: 'r', order: 'SO-1' };
    expect(movementRow(m)).toHaveLength(ROW_COLUMNS.length);
    expect(movementRow(m).filter((v) => v === null)).toHaveLength(ROW_COLUMNS.length - Object.keys(m).length);
  });

  it('null is an absent field; columns may come in any order and be fewer', () => {
    const m = { id: '01JZZZZZZZZZZZZZZZZZZZZZZZ', seq: 7, ts: AT, location: 'DOCK', kind: 'receive', sku: 'S', qty: 1.5, uom: 'kg', device: { id: 'd', type: 'scale' }, raw: 'x' };
    const few = ['raw', 'device', 'uom', 'qty', 'sku', 'kind', 'location', 'ts', 'seq', 'id'] as const;
    const { movements } = viaRows([m], few);
    expect(Movement.parse(movements[0])).toStrictEqual(Movement.parse(asV1(m)));
    const full = viaRows([m]).movements[0]!;
    expect(Object.keys(full)).not.toContain('gtin'); // a null column leaves no key
    expect(Movement.parse(full)).toStrictEqual(Movement.parse(asV1(m)));
    // In version 1 a null is refused: the forms differ there on purpose.
    expect(Movement.safeParse(asV1({ ...m, gtin: null })).success).toBe(false);
  });

  it('rowsAsVersion1: the version 1 envelope fastMovementBatch gives for the same batch; a rows batch that does not ask stands for an ask', () => {
    const ms = [{ id: '01JAAAAAAAAAAAAAAAAAAAAAAA', seq: 1, ts: AT, location: 'L', kind: 'receive', sku: 'S', qty: 1, uom: 'ea', device: { id: 'd', type: 't' }, raw: 'r' }];
    const body = JSON.parse(encodeRowsBatch(SITE, EDGE, AT, ms)) as Record<string, unknown>;
    const { envelope, problems } = rowsAsVersion1(fastMovementRowsBatch(body)!);
    expect(problems).toBeUndefined();
    expect(envelope).toStrictEqual(fastMovementBatch({ v: 1, site: SITE, edge: EDGE, sentAt: AT, movements: ms.map(asV1), batchVersions: [1, 2] }));
    const { batchVersions: _asked, ...silent } = body;
    expect(rowsAsVersion1(fastMovementRowsBatch(silent)!).envelope.batchVersions).toEqual([1, 2]);
  });

  it('a row of the wrong shape is refused alone, naming the row, and still gives its seq and id; a short row ends at its last value', () => {
    const env = fastMovementRowsBatch({ v: 2, site: SITE, edge: EDGE, sentAt: AT, cols: ['id', 'seq', 'raw'], rows: [['01JAAAAAAAAAAAAAAAAAAAAAAA', 1, 'a'], ['01JBBBBBBBBBBBBBBBBBBBBBBB', 2], 'x', null, ['01JCCCCCCCCCCCCCCCCCCCCCCC', 5, 'c', 'extra']] })!;
    const r = rowsToMovements(env);
    expect(r.problems).toEqual([undefined, undefined, 'rows[2]: expected an array of at most 3 values, got string', 'rows[3]: expected an array of at most 3 values, got null', 'rows[4]: 4 values, cols names 3']);
    expect(r.movements[1]).toStrictEqual({ v: 1, site: SITE, edge: EDGE, id: '01JBBBBBBBBBBBBBBBBBBBBBBB', seq: 2 });
    expect(r.movements[2]).toStrictEqual({ v: 1, site: SITE, edge: EDGE });
    expect(r.movements[4]).toMatchObject({ id: '01JCCCCCCCCCCCCCCCCCCCCCCC', seq: 5, raw: 'c' });
  });

  it('the envelope: the fast path takes exactly what the schema takes, and the schema names the field', () => {
    const ok = { v: 2, site: SITE, edge: EDGE, sentAt: AT, cols: [...ROW_COLUMNS], rows: [[]], batchVersions: [1, 2] };
    expect(fastMovementRowsBatch(ok)).toStrictEqual(MovementRowsBatch.parse(ok));
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ ...ok, cols: ['id', 'colour'] }, /^cols\.1: cols: 'colour' is not a movement column$|^cols: 'colour' is not a movement column$/],
      [{ ...ok, cols: ['id', 'id'] }, /^cols: a column is named twice$/],
      [{ ...ok, cols: [] }, /^cols: /],
      [{ ...ok, cols: [...ROW_COLUMNS, 'v'] }, /^cols/],
      [{ ...ok, cols: ['site'] }, /'site' is not a movement column/],
      [{ ...ok, cols: 'id,seq' }, /^cols: /],
      [{ ...ok, rows: [] }, /^rows: /],
      [{ ...ok, rows: Array.from({ length: 1001 }, () => []) }, /^rows: /],
      [{ ...ok, rows: { 0: [] } }, /^rows: /],
      [{ ...ok, sentAt: 'now' }, /^sentAt: /],
      [{ ...ok, edge: 'alerts' }, /^edge: this id is reserved$/],
      [{ ...ok, site: 'a/b' }, /^site: /],
      [{ ...ok, batchVersions: [] }, /^batchVersions: /],
      [{ ...ok, batchVersions: [1, 'two'] }, /^batchVersions\.1: /],
      [{ ...ok, v: 1 }, /^v: /],
    ];
    for (const [body, message] of bad) {
      expect(fastMovementRowsBatch(body), JSON.stringify(body).slice(0, 80)).toBeUndefined();
      const r = MovementRowsBatch.safeParse(body);
      expect(r.success).toBe(false);
      if (!r.success) expect(describeIssue(r.error)).toMatch(message);
    }
    // Property: on any mutation of a good envelope, both agree.
    fc.assert(
      fc.property(fc.constantFrom('v', 'site', 'edge', 'sentAt', 'cols', 'rows', 'batchVersions'), fc.anything(), (key, value) => {
        const body = JSON.parse(JSON.stringify({ ...ok, [key]: value })) as unknown;
        const z = MovementRowsBatch.safeParse(body);
        const f = fastMovementRowsBatch(body);
        expect(f !== undefined).toBe(z.success);
        if (z.success) expect(f).toStrictEqual(z.data);
      }),
      { numRuns: 500, seed: 2 },
    );
  });

  it('version 1 batches may ask (batchVersions); the fast path and the schema agree on it', () => {
    const b = { v: 1, site: SITE, edge: EDGE, sentAt: AT, movements: [{}], batchVersions: [1, 2] };
    expect(fastMovementBatch(b)).toStrictEqual(MovementBatch.parse(b));
    expect(MovementBatch.parse(b).batchVersions).toEqual([1, 2]);
    for (const v of [[], [0], ['2'], Array(9).fill(1), 2]) {
      expect(fastMovementBatch({ ...b, batchVersions: v })).toBeUndefined();
      expect(MovementBatch.safeParse({ ...b, batchVersions: v }).success).toBe(false);
    }
    // An older cloud's view of an asking batch (its schema has no such key): taken, the key stripped.
    const older = MovementBatch.omit({ batchVersions: true }).safeParse(b);
    expect(older.success).toBe(true);
    expect(older.data).not.toHaveProperty('batchVersions');
    expect(older.data?.movements).toEqual([{}]);
    expect(BATCH_VERSIONS).toEqual([1, 2]);
  });

  it('the rows form is smaller: the bench movement in 500s', () => {
    const ms = Array.from({ length: 500 }, (_, i) => ({ id: `01J${String(i).padStart(23, '0')}`, seq: i + 1, ts: AT, location: 'DOCK-1', kind: 'receive', sku: `SKU-${i % 1000}`, qty: 1, uom: 'ea', operator: 'op-1', device: { id: 'dock1', type: 'scanner' }, raw: `]C0SKU-${i}` }));
    const v1 = JSON.stringify({ v: 1, site: SITE, edge: EDGE, sentAt: AT, movements: ms.map((m) => ({ v: 1, ...m, edge: EDGE, site: SITE })) });
    const v2 = encodeRowsBatch(SITE, EDGE, AT, ms);
    // The field names go, and a row ends at its last value (no nulls for this movement).
    expect(v2.length).toBeLessThan(v1.length * 0.6);
    expect(v2).not.toContain('null');
  });
});

describe('the ack offers the rows form under its signature', () => {
  const key = deriveAckKey('edge-password-1');
  const ack: AckContent = { edge: 'e1', ranges: [[1, 5]], duplicates: 0, at: AT };

  it('an ack without the offer has the seven lines an older edge verifies; with it, an eighth', () => {
    expect(canonicalAck('s1', ack)).toBe(`stockgate/ack/v1\ns1\ne1\n1-5\n0\n\n${AT}`);
    expect(canonicalAck('s1', { ...ack, batchVersions: [1, 2] })).toBe(`stockgate/ack/v1\ns1\ne1\n1-5\n0\n\n${AT}\n1,2`);
  });

  it('the offer cannot be added to, or removed from, a signed ack', () => {
    const plain = signAck(key, 's1', ack);
    const offered = signAck(key, 's1', { ...ack, batchVersions: [1, 2] });
    expect(verifyAck(key, 's1', { ...ack, batchVersions: [1, 2] }, plain)).toBe(false);
    expect(verifyAck(key, 's1', ack, offered)).toBe(false);
    expect(verifyAck(key, 's1', { ...ack, batchVersions: [1] }, offered)).toBe(false);
    expect(verifyAck(key, 's1', { ...ack, batchVersions: [1, 2] }, offered)).toBe(true);
  });

  it('an older edge (its Ack schema without the field) strips it and still verifies an ack that has none', () => {
    const wire = { v: 1, ...ack, sig: signAck(key, 's1', ack) };
    const parsed = Ack.parse(wire);
    expect(parsed.batchVersions).toBeUndefined();
    expect(verifyAck(key, 's1', parsed, parsed.sig)).toBe(true);
    expect(Ack.parse({ ...wire, batchVersions: [1, 2] }).batchVersions).toEqual([1, 2]);
    expect(Ack.safeParse({ ...wire, batchVersions: ['x'] }).success).toBe(false);
  });
});
