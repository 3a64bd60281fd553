import { describe, expect, it } from 'vitest';
import type { WeightReading } from '../../devices/driver.js';
import type { MovementDraft } from '../../edge/outbox/outbox-store.js';
import { WeighStation, type ArmedItem, type StationEvent } from '../../edge/weigh-station.js';

const T0 = Date.parse('2026-11-22T08:00:00.000Z');

function draft(sku: string, over: Partial<MovementDraft> = {}): MovementDraft {
  return { ts: new Date(T0).toISOString(), location: 'WEIGH-1', kind: 'receive', sku, qty: 1, uom: 'ea', device: { id: 'dock1', type: 'scanner' }, raw: sku, operator: 'W-7', ...over };
}
/** An armed item; no uom = not in the item master (weighed in kg unless it has an APW). */
const item = (sku: string, over: Partial<ArmedItem> = {}): ArmedItem => ({ key: sku, draft: draft(sku), ...over });

/** A scale streaming every 100 ms; `hold` keeps a weight for `ms`. */
class Feed {
  at = T0;
  constructor(readonly st: WeighStation) {}
  frame(kg: number, stable: boolean | undefined = true, over: Partial<WeightReading> = {}): StationEvent[] {
    this.at += 100;
    const r: WeightReading = { kind: 'weight', weightKg: kg, unit: 'kg', raw: `ST,NT,${kg}kg`, at: this.at, ...over };
    if (stable !== undefined) r.stable = stable;
    return this.st.weight(r);
  }
  hold(kg: number, ms = 1500, stable: boolean | undefined = true, over: Partial<WeightReading> = {}): StationEvent[] {
    const out: StationEvent[] = [];
    for (let t = 0; t < ms; t += 100) out.push(...this.frame(kg, stable, over));
    return out;
  }
}

const types = (evs: StationEvent[]) => evs.map((e) => e.type);

function ready(o: ConstructorParameters<typeof WeighStation>[0] = { name: 's' }): Feed {
  const f = new Feed(new WeighStation(o));
  expect(types(f.hold(0))).toEqual(['zeroed']);
  expect(f.st.currentState).toBe('ready');
  return f;
}

describe('WeighStation', () => {
  it('waits for zero at start: a load already on the scale is not counted', () => {
    const f = new Feed(new WeighStation({ name: 's', divisionKg: 0.01 }));
    f.st.arm(item('CEMENT'));
    const evs = f.hold(25);
    expect(evs).toEqual([{ type: 'warning', code: 'SG_ERR_WEIGH_NOT_ZERO', message: expect.stringMatching(/clear and zero/) }]);
    expect(types(f.hold(0))).toEqual(['zeroed']);
    expect(types(f.hold(25))).toEqual(['placement']);
  });

  it('a stable load of a bulk item is one movement in kg, however many frames the load sends', () => {
    const f = ready({ name: 's', divisionKg: 0.01 });
    f.st.arm(item('SAND', { draft: draft('SAND', { project: 'P-1', crew: 'C-2' }) }));
    const evs = [...f.hold(12.34, 5000)];
    expect(evs).toHaveLength(1);
    const p = evs[0]!;
    expect(p).toMatchObject({ type: 'placement', basis: 'weight', weightKg: 12.34 });
    if (p.type !== 'placement') return;
    expect(p.draft).toMatchObject({ sku: 'SAND', qty: 12.34, uom: 'kg', kind: 'receive', project: 'P-1', crew: 'C-2', operator: 'W-7', raw: 'SAND | ST,NT,12.34kg' });
    expect(Date.parse(p.draft.ts)).toBeGreaterThan(T0);
    expect(f.st.currentState).toBe('loaded');
    expect(f.st.armedItem).toBeUndefined();
  });

  it('needs the device flag and the stability window: motion and swings make nothing', () => {
    const f = ready({ name: 's', divisionKg: 0.01, stableMs: 1000 });
    f.st.arm(item('SAND'));
    expect(f.hold(10, 3000, false)).toEqual([]); // the scale says motion
    // flagged stable but swinging more than 1 d within the window
    const swing: StationEvent[] = [];
    for (let i = 0; i < 30; i++) swing.push(...f.frame(i % 2 ? 10.0 : 10.05, true));
    expect(swing).toEqual([]);
    // a flag-less scale (XK3190) is judged by the window alone
    const evs = f.hold(10.02, 1200, undefined);
    expect(types(evs)).toEqual(['placement']);
  });

  it('stableMs 0 trusts the device flag alone', () => {
    const f = ready({ name: 's', divisionKg: 0.01, stableMs: 0 });
    f.st.arm(item('SAND'));
    expect(types(f.frame(5))).toEqual(['placement']);
  });

  it('refuses a placement with no item scanned, once per placement, then counts the next one', () => {
    const f = ready({ name: 's', divisionKg: 0.01 });
    const evs = f.hold(8, 3000);
    expect(evs).toEqual([{ type: 'refused', code: 'SG_ERR_WEIGH_NO_ITEM', message: expect.stringMatching(/no item scanned/) }]);
    f.st.arm(item('SAND'));
    expect(f.hold(8)).toEqual([]); // the same load stays refused: take it off first
    expect(types(f.hold(0))).toEqual(['zeroed']);
    expect(types(f.hold(8))).toEqual(['placement']);
  });

  it('counts pieces by the item master unit weight', () => {
    const f = ready({ name: 's', divisionKg: 0.001 });
    f.st.arm(item('BOLT', { unitWeightKg: 0.05, uom: 'pcs' }));
    const [p] = f.hold(2.5);
    expect(p).toMatchObject({ type: 'placement', basis: 'count', apwKg: 0.05, warnings: [] });
    if (p?.type === 'placement') expect(p.draft).toMatchObject({ qty: 50, uom: 'pcs' });
  });

  it('SAMPLE: the next stable weight is n pieces; the APW then counts the load and is remembered', () => {
    const f = ready({ name: 's', divisionKg: 0.001 });
    expect(f.st.sample(10)).toEqual([{ type: 'refused', code: 'SG_ERR_WEIGH_NO_ITEM', message: 'SAMPLE: scan the item first' }]);
    f.st.arm(item('WASHER'));
    expect(f.st.sample(10)).toEqual([]);
    const s = f.hold(0.123);
    expect(s).toEqual([{ type: 'sampled', item: 'WASHER', pieces: 10, weightKg: 0.123, apwKg: 0.0123, warnings: [] }]);
    f.hold(0);
    const [p] = f.hold(1.23); // still armed: the sample did not use up the scan
    expect(p).toMatchObject({ type: 'placement', basis: 'count', apwKg: 0.0123 });
    if (p?.type === 'placement') expect(p.draft.qty).toBe(100);
    f.hold(0);
    f.st.arm(item('WASHER', { unitWeightKg: 0.02 })); // the sample wins over the master weight
    const [q] = f.hold(0.615);
    if (q?.type === 'placement') expect(q.draft.qty).toBe(50);
    expect(f.st.sampledApw('WASHER')).toEqual({ apwKg: 0.0123, samplePieces: 10, sampleKg: 0.123 });
  });

  it('passes count-by-weight warnings on: a doubtful count, a small sample', () => {
    const f = ready({ name: 's', divisionKg: 0.001 });
    f.st.arm(item('BOLT', { unitWeightKg: 0.05 }));
    const [p] = f.hold(2.517); // 50.34 pieces
    expect(p).toMatchObject({ type: 'placement', warnings: [expect.objectContaining({ code: 'doubtful-count' })] });
    f.hold(0);
    f.st.arm(item('NUT'));
    f.st.sample(3);
    const [s] = f.hold(0.03);
    expect(s).toMatchObject({ type: 'sampled', warnings: [expect.objectContaining({ code: 'sample-too-small' })] });
  });

  it('refuses serialised items, a load lighter than half a piece, and a negative weight', () => {
    const f = ready({ name: 's', divisionKg: 0.01 });
    expect(f.st.arm(item('PUMP', { draft: draft('PUMP', { serial: 'SN1' }) }))).toEqual([
      { type: 'refused', code: 'SG_ERR_WEIGH_SERIALISED', message: 'PUMP is serialised: scan each unit, do not weigh it' },
    ]);
    f.st.arm(item('BEAM', { unitWeightKg: 10 }));
    expect(f.hold(2)).toEqual([{ type: 'refused', code: 'SG_ERR_WEIGH_ZERO_COUNT', message: expect.stringMatching(/less than half a piece/) }]);
    f.hold(0);
    expect(f.hold(-3)).toEqual([{ type: 'refused', code: 'SG_ERR_WEIGH_NEGATIVE', message: 'negative weight -3 kg: zero the scale' }]);
    expect(f.st.currentState).toBe('wait-zero');
  });

  it('must return within the zero band before the next placement; a drifted zero is reported as drift', () => {
    const f = ready({ name: 's', divisionKg: 0.001 });
    f.st.arm(item('SAND'));
    f.hold(5);
    f.st.arm(item('SAND'));
    // The load comes off but the scale settles at +30 g: not zero.
    const evs = f.hold(0.03);
    expect(evs).toEqual([{ type: 'warning', code: 'SG_ERR_WEIGH_NOT_ZERO', message: expect.stringMatching(/outside the zero band/) }]);
    expect(f.st.zeroDriftKg).toBe(0.03);
    expect(f.hold(5)).toEqual([]); // not counted: the scale never came back to zero
    expect(types(f.hold(0.001))).toEqual(['zeroed']); // within ±1 d
    expect(f.st.zeroDriftKg).toBe(0.001);
    expect(types(f.hold(5))).toEqual(['placement']);
  });

  it('a zero that creeps without motion is drift, not a placement: reported, and the station waits for a re-zero', () => {
    const f = ready({ name: 's', divisionKg: 0.01 });
    f.st.arm(item('SAND'));
    const evs: StationEvent[] = [];
    for (let i = 1; i <= 8; i++) evs.push(...f.hold(i * 0.005, 600)); // never unstable: ±1 d per second
    expect(evs).toEqual([{ type: 'warning', code: 'SG_ERR_WEIGH_NOT_ZERO', message: expect.stringMatching(/zero drifted to 0.015 kg/) }]);
    expect(f.st.zeroDriftKg).toBe(0.04);
    expect(f.st.currentState).toBe('wait-zero');
    expect(f.hold(5)).toEqual([]);
    expect(types(f.hold(0))).toEqual(['zeroed']);
    expect(types(f.hold(5))).toEqual(['placement']);
  });

  it('monitorOnly (a scale outside any station) tracks drift and loads but never places or refuses', () => {
    const f = ready({ name: 'm', divisionKg: 0.01, monitorOnly: true });
    expect(f.hold(5)).toEqual([]);
    expect(f.st.currentState).toBe('loaded');
    expect(types(f.hold(0.02))).toEqual(['warning']);
    expect(f.st.zeroDriftKg).toBe(0.02);
  });

  it('a configured zero band, and the division learnt from frames', () => {
    const f = ready({ name: 's', divisionKg: 0.01, zeroBandKg: 0.05 });
    f.st.arm(item('SAND'));
    f.hold(5);
    expect(types(f.hold(0.04))).toEqual(['zeroed']);
    const g = new Feed(new WeighStation({ name: 'g' }));
    expect(types(g.hold(0.02, 1500, true, { divisionKg: 0.02 }))).toEqual(['zeroed']); // 1 d of 20 g
    expect(g.st.zeroBandKg).toBe(0.02);
  });

  it('reports weight, stability and drift for telemetry', () => {
    const f = ready({ name: 's', divisionKg: 0.01 });
    expect(f.st.zeroDriftKg).toBe(0);
    f.frame(3, false);
    expect(f.st.lastWeightKg).toBe(3);
    expect(f.st.lastStable).toBe(false);
  });
});

describe('WeighStation books in the item master uom (issue 9, C3)', () => {
  it('an item counted in bags with no unit weight is refused with a request to sample, stays armed, and counts in bags after SAMPLE', () => {
    const f = ready({ name: 's', divisionKg: 0.01 });
    f.st.arm(item('CEM-50', { uom: 'bag' }));
    expect(f.st.basisFor(f.st.armedItem!)).toMatch(/needs SAMPLE:n first/);
    const refused = f.hold(100);
    expect(refused).toEqual([{ type: 'refused', code: 'SG_ERR_WEIGH_NEEDS_SAMPLE', message: expect.stringMatching(/CEM-50 is counted in bag and has no unit weight: .*SAMPLE:n/) }]);
    expect(f.st.armedItem?.key).toBe('CEM-50');
    expect(types(f.hold(0))).toEqual(['zeroed']);
    f.st.sample(2);
    expect(types(f.hold(50))).toEqual(['sampled']);
    f.hold(0);
    const [p] = f.hold(150);
    expect(p).toMatchObject({ type: 'placement', basis: 'count', draft: { qty: 6, uom: 'bag' } });
  });

  it('an item mastered in kg is booked in kg even with a unit weight; one in g is converted', () => {
    const f = ready({ name: 's', divisionKg: 0.01 });
    f.st.arm(item('SAND', { uom: 'kg', unitWeightKg: 0.5 }));
    expect(f.hold(12.34)).toEqual([expect.objectContaining({ type: 'placement', basis: 'weight', draft: expect.objectContaining({ qty: 12.34, uom: 'kg' }) })]);
    f.hold(0);
    f.st.arm(item('PIGMENT', { uom: 'g' }));
    expect(f.hold(1.25)).toEqual([expect.objectContaining({ draft: expect.objectContaining({ qty: 1250, uom: 'g' }) })]);
  });

  it('an item in pieces with a unit weight is counted in its uom; an unknown item is weighed in kg', () => {
    const f = ready({ name: 's', divisionKg: 0.01 });
    f.st.arm(item('CEM-50', { uom: 'bag', unitWeightKg: 50 }));
    expect(f.hold(200)).toEqual([expect.objectContaining({ basis: 'count', draft: expect.objectContaining({ qty: 4, uom: 'bag' }) })]);
    f.hold(0);
    f.st.arm(item('LOOSE'));
    expect(f.hold(3.3)).toEqual([expect.objectContaining({ basis: 'weight', draft: expect.objectContaining({ qty: 3.3, uom: 'kg' }) })]);
  });
});

describe('WeighStation: exact quantities', () => {
  it('a bulk weight from a fine balance is booked at 3 decimals', () => {
    const f = ready({ name: 's', divisionKg: 0.0001 });
    f.st.arm(item('POWDER'));
    expect(f.hold(1.2346)).toEqual([expect.objectContaining({ type: 'placement', weightKg: 1.2346, draft: expect.objectContaining({ qty: 1.235, uom: 'kg' }) })]);
  });
});
