import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Instant, IsoDate } from '../../../protocols/mqtt/fields.js';
import { EPC_PATTERN, GTIN_PATTERN, MOVEMENT_ID_PATTERN, MOVEMENT_KINDS, Movement, MovementBatch } from '../../../protocols/mqtt/movement.js';
import { fastMovement, fastMovementBatch } from '../../../protocols/mqtt/movement-fast.js';
import { ID_PATTERN } from '../../../protocols/mqtt/topics.js';
import { qtyProblem } from '../../../protocols/ledger/quantity.js';

/*
 * The fast path's contract (protocols/mqtt/movement-fast.ts), with zod as the oracle:
 *   accepted  => exactly zod's output (deep and strict equality, same key order);
 *   zod-valid => accepted, for any input JSON.parse can make (the only cases it defers on a valid
 *               movement are non-plain objects and optional keys present as undefined, tested apart).
 * Inputs come from the schema's own rules (its patterns, lengths, kinds, qty decimals) and are then
 * mutated field by field with random values, control characters, lone surrogates and garbage.
 */

const TEXT_KEYS = ['location', 'toLocation', 'sku', 'batch', 'serial', 'uom', 'project', 'stage', 'operator', 'crew', 'po', 'req', 'order'] as const;

/** Text mostly valid for `text(max)`: graphemes (emoji pairs included), sometimes a control or a lone surrogate. */
const textOf = (max: number) =>
  fc.oneof(
    { weight: 40, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: max }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 0, maxLength: max + 2 }) },
    { weight: 1, arbitrary: fc.constantFrom('', 'a\u0000', 'b\u001f', 'c\u007f', '\u0085', '\ud800', 'x\udc00y', '\ud83e\uddf1', 'x'.repeat(max), 'x'.repeat(max + 1)) },
  );

const idOf = fc.stringMatching(ID_PATTERN);
const qtyArb = fc.oneof(
  fc.integer({ min: -2_000_000, max: 2_000_000 }).map((m) => m / 1000),
  fc.integer({ min: -1_000_000_000_000, max: 1_000_000_000_000 }).map((m) => m / 1000),
  fc.integer({ min: -20, max: 20 }),
  fc.double({ noNaN: false }),
  fc.double({ min: -1e10, max: 1e10, noNaN: true }),
  fc.constantFrom(0, -0, 1e9, -1e9, 1e9 + 0.001, 0.0005, 1.0005, 999999999.999, 1e-7, 0.1 + 0.2, 5e-324),
);

/** A movement drawn from the schema's rules; `fix` then makes it satisfy the cross-field rules. */
const movementArb = fc
  .record(
    {
      v: fc.constant(1),
      id: fc.stringMatching(MOVEMENT_ID_PATTERN),
      edge: idOf,
      seq: fc.oneof(
        fc.integer({ min: 1, max: 1000 }),
        fc.constant(Number.MAX_SAFE_INTEGER),
        fc.maxSafeNat().map((n) => n + 1),
      ),
      ts: fc.oneof(
        fc.stringMatching(Instant._zod.def.pattern!),
        fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      ),
      site: idOf,
      location: textOf(64),
      toLocation: textOf(64),
      kind: fc.constantFrom(...MOVEMENT_KINDS),
      sku: textOf(64),
      gtin: fc.stringMatching(GTIN_PATTERN),
      epc: fc.stringMatching(EPC_PATTERN),
      batch: textOf(20),
      expiry: fc.stringMatching(IsoDate._zod.def.pattern!),
      serial: textOf(64),
      qty: qtyArb,
      uom: textOf(16),
      project: textOf(64),
      stage: textOf(64),
      operator: textOf(64),
      crew: textOf(64),
      po: textOf(64),
      req: textOf(64),
      order: textOf(64),
      device: fc.record({ id: textOf(64), type: textOf(64), firmware: fc.string() }, { requiredKeys: ['id', 'type'] }),
      raw: fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ maxLength: 4100 })),
      colour: fc.string(),
    },
    { requiredKeys: ['v', 'id', 'edge', 'seq', 'ts', 'site', 'location', 'kind', 'qty', 'uom', 'device', 'raw'] },
  )
  .chain((m) => fc.boolean().map((fix) => (fix ? fixUp(m) : m)));

/** Satisfy the cross-field rules (item identity, transfer locations, qty sign) so zod-valid inputs are frequent. */
function fixUp(m: Record<string, unknown>): Record<string, unknown> {
  const o = { ...m };
  if (o.sku === undefined && o.gtin === undefined && o.epc === undefined) o.sku = 'SKU-1';
  if (o.kind === 'transfer') {
    if (o.toLocation === undefined || o.toLocation === o.location) o.toLocation = `${String(o.location).slice(0, 60)}-to`;
  } else delete o.toLocation;
  if (typeof o.qty === 'number' && o.kind !== 'adjust') o.qty = Math.abs(o.qty) || 1;
  return o;
}

const garbage = fc.oneof(fc.anything(), fc.jsonValue(), fc.string({ unit: 'binary' }), fc.double(), fc.constantFrom(null, [], {}, true, '', 0, -1, 1.5));
const KEYS = [...Object.keys(Movement.shape ?? {}), 'id', 'qty', 'kind', 'device', 'v', 'edge', 'site', 'ts', 'raw', ...TEXT_KEYS];

/** One mutation of a movement: a field replaced by garbage, deleted, or its device broken. */
const mutated = fc.tuple(movementArb, fc.constantFrom(...KEYS), garbage, fc.nat(3)).map(([m, key, value, how]) => {
  const o: Record<string, unknown> = { ...m };
  if (how === 0) delete o[key];
  else if (how === 1) o.device = typeof value === 'object' ? value : { id: value, type: 'scanner' };
  else o[key] = value;
  return o;
});

/** What JSON.parse would make of it: the ingester only sees those. */
const wire = (x: unknown): unknown => {
  const s = JSON.stringify(x);
  return s === undefined ? undefined : JSON.parse(s);
};

function agrees(x: unknown, known?: { site: string; edge: string }, fast = fastMovement): { zodOk: boolean; fastOk: boolean } {
  const z = Movement.safeParse(x);
  const f = fast(x, known);
  if (f !== undefined) {
    expect(z.success, `fast accepted what zod refuses: ${z.success ? '' : z.error.issues[0]?.message}`).toBe(true);
    expect(f).toStrictEqual(z.data);
    expect(Object.keys(f)).toEqual(Object.keys(z.data!));
    expect(Object.keys(f.device)).toEqual(Object.keys(z.data!.device));
  }
  return { zodOk: z.success, fastOk: f !== undefined };
}

/** One valid movement, the starting point of the hand-made cases. */
const SAMPLE = {
  v: 1,
  id: '01JDQ7ZK3M8Y2V5XKJ4N6P9R0T',
  edge: 'e1',
  seq: 1,
  ts: '2026-11-22T02:19:00Z',
  site: 's1',
  location: 'A',
  kind: 'receive',
  sku: 'X',
  qty: 1,
  uom: 'ea',
  device: { id: 'd', type: 't' },
  raw: '',
};

describe('fastMovement: exactly zod, or defer to zod', () => {
  it('generated movements: accepted => zod output; zod-valid => accepted', () => {
    let valid = 0;
    fc.assert(
      fc.property(movementArb, (m) => {
        const x = wire(m);
        const r = agrees(x);
        expect(r.fastOk).toBe(r.zodOk);
        if (r.zodOk) valid++;
      }),
      { numRuns: 4000, seed: 14 },
    );
    // The control: the generator really produces valid movements, so the completeness side is tested.
    expect(valid).toBeGreaterThan(400);
  });

  it('mutated movements and garbage: accepted => zod output; zod-valid wire input => accepted', () => {
    let refused = 0;
    fc.assert(
      fc.property(fc.oneof({ weight: 4, arbitrary: mutated }, { weight: 1, arbitrary: garbage }), (m) => {
        const raw = agrees(m);
        if (!raw.zodOk) refused++;
        const r = agrees(wire(m));
        expect(r.fastOk).toBe(r.zodOk);
      }),
      { numRuns: 6000, seed: 15 },
    );
    expect(refused).toBeGreaterThan(2000);
  });

  it('with the topic site/edge known: the same answers (an equal id skips its pattern, a different one is checked)', () => {
    fc.assert(
      fc.property(movementArb, fc.boolean(), (m, same) => {
        const x = wire(m) as Record<string, unknown>;
        const known = same ? { site: String(x.site), edge: String(x.edge) } : { site: 'other-site', edge: 'other-edge' };
        const r = agrees(x, known);
        expect(r.fastOk).toBe(r.zodOk);
      }),
      { numRuns: 1500, seed: 16 },
    );
  });

  it('control: the checks see a fast path that keeps an unknown key, rounds a qty or takes a 17-unit uom', () => {
    const m = fixUp({ ...SAMPLE, qty: 1.5 });
    const keeps: typeof fastMovement = (x, k) => (fastMovement(x, k) ? ({ ...(x as object) } as ReturnType<typeof fastMovement>) : undefined);
    expect(() => agrees({ ...m, colour: 'red' }, undefined, keeps)).toThrow();
    const rounds: typeof fastMovement = (x, k) => {
      const r = fastMovement(x, k);
      return r && { ...r, qty: Math.round(r.qty) };
    };
    expect(() => agrees(m, undefined, rounds)).toThrow();
    // UTF-16 units instead of zod's code points: a valid uom of 8 emoji pairs deferred, which the completeness check reports.
    const units: typeof fastMovement = (x, k) => ((x as { uom?: string }).uom!.length > 16 ? undefined : fastMovement(x, k));
    const r = agrees({ ...m, uom: ' ' + '\u{10000}'.repeat(8) }, undefined, units);
    expect(r).toEqual({ zodOk: true, fastOk: false });
  });

  it('qty: accepted exactly when qtyProblem and |qty| <= 1e9 accept it, for any double', () => {
    const { qty: _, ...rest } = SAMPLE;
    const base = { ...rest, kind: 'adjust' };
    fc.assert(
      fc.property(qtyArb, (qty) => {
        const exact = qtyProblem(qty) === undefined && Math.abs(qty) <= 1e9 && qty !== 0;
        expect(fastMovement({ ...base, qty }) !== undefined).toBe(exact);
        expect(Movement.safeParse({ ...base, qty }).success).toBe(exact);
      }),
      { numRuns: 20000, seed: 17 },
    );
  });

  it('defers (zod decides) on the narrow cases it does not mirror: class instances, optional keys present as undefined', () => {
    const m = fixUp({ ...SAMPLE, qty: 1 });
    expect(fastMovement(m)).toStrictEqual(Movement.parse(m));
    class Thing {
      constructor(o: object) {
        Object.assign(this, o);
      }
    }
    expect(Movement.safeParse(new Thing(m)).success).toBe(true);
    expect(fastMovement(new Thing(m))).toBeUndefined();
    const withUndefined = { ...m, batch: undefined };
    expect(Movement.parse(withUndefined)).toHaveProperty('batch', undefined);
    expect(fastMovement(withUndefined)).toBeUndefined();
    expect(fastMovement({ ...m, device: new Thing({ id: 'd', type: 't' }) })).toBeUndefined();
  });
});

describe('fastMovementBatch: exactly zod, or defer to zod', () => {
  const envelope = fc.record(
    {
      v: fc.oneof({ weight: 6, arbitrary: fc.constant(1) }, garbage),
      site: fc.oneof({ weight: 6, arbitrary: idOf }, garbage),
      edge: fc.oneof({ weight: 6, arbitrary: idOf }, fc.constantFrom('alerts', 'api'), garbage),
      sentAt: fc.oneof(
        { weight: 3, arbitrary: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()) },
        { weight: 3, arbitrary: fc.stringMatching(Instant._zod.def.pattern!) },
        garbage,
      ),
      movements: fc.oneof(
        { weight: 4, arbitrary: fc.array(garbage, { minLength: 0, maxLength: 5 }) },
        { weight: 2, arbitrary: fc.integer({ min: 995, max: 1002 }).map((n) => Array.from({ length: n }, () => ({}))) },
        garbage,
      ),
      extra: fc.anything(),
    },
    { requiredKeys: ['v', 'site', 'edge', 'sentAt', 'movements'] },
  );
  const partial = fc.tuple(envelope, fc.oneof({ weight: 5, arbitrary: fc.constant('none') }, fc.constantFrom('v', 'site', 'edge', 'sentAt', 'movements'))).map(([b, k]) => {
    const o: Record<string, unknown> = { ...b };
    delete o[k];
    return o;
  });

  it('accepted => zod output; zod-valid wire input => accepted', () => {
    let valid = 0;
    fc.assert(
      fc.property(partial, (b) => {
        for (const x of [b, wire(b)]) {
          const z = MovementBatch.safeParse(x);
          const f = fastMovementBatch(x);
          if (f !== undefined) {
            expect(z.success).toBe(true);
            expect(f).toStrictEqual(z.data);
            expect(Object.keys(f)).toEqual(Object.keys(z.data!));
            expect(f.movements).not.toBe((x as { movements: unknown }).movements);
          }
          if (x !== b) {
            expect(f !== undefined).toBe(z.success);
            if (z.success) valid++;
          }
        }
      }),
      { numRuns: 3000, seed: 18 },
    );
    expect(valid).toBeGreaterThan(200);
  });
});
