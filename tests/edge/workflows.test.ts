import { describe, expect, it } from 'vitest';
import type { Reading } from '../../devices/driver.js';
import { MemoryItems } from '../../edge/item-cache.js';
import type { IdentityLookup } from '../../edge/identities.js';
import { Workflows, type WorkflowDevice, type WorkflowEffect, type WorkflowSettings } from '../../edge/workflows.js';
import { Movement } from '../../protocols/mqtt/index.js';
import { encodeSgtin96 } from '../../protocols/rfid/epc.js';

const T0 = Date.parse('2026-11-22T08:00:00.000Z');
const DEVICES: WorkflowDevice[] = [
  { name: 'dock1', driver: 'scanner', reads: 'scan' },
  { name: 'counter1', driver: 'scanner', reads: 'scan' },
  { name: 'wscan', driver: 'scanner', reads: 'scan' },
  { name: 'scale1', driver: 'scale-ascii', reads: 'weight' },
  { name: 'scale2', driver: 'scale-mt-sics', reads: 'weight' },
  { name: 'gate', driver: 'rfid-m100', reads: 'tag' },
  { name: 'portal', driver: 'rfid-uhfreader18', reads: 'tag' },
];
const SETTINGS: WorkflowSettings = {
  mode: 'receive',
  location: 'DOCK-1',
  uom: 'ea',
  issueRequires: [],
  unknownItems: 'accept',
  stations: [{ scanner: 'wscan', scale: 'scale1', divisionKg: 0.01 }],
  rfid: [
    { reader: 'gate', role: 'zone', readWindowMs: 2000, departureMs: 5000, scanner: 'dock1' },
    { reader: 'portal', role: 'portal', outsideAntenna: 1, insideAntenna: 2, location: 'GATE-2' },
  ],
  sessionIdleMin: 30,
};
const GTIN = '09506000134352';
const ITEMS = new MemoryItems([
  { sku: 'CEM-50', gtin: GTIN, uom: 'bag' },
  { sku: 'BOLT-M8', gtin: '04012345678901', unitWeightKg: 0.05, uom: 'pcs' },
  { sku: 'PUMP-1', serialised: true },
]);

class Ids implements IdentityLookup {
  readonly set = new Set<string>();
  inStock(id: string): boolean {
    return this.set.has(id);
  }
}

function setup(over: Partial<WorkflowSettings> = {}) {
  const ids = new Ids();
  const wf = new Workflows(DEVICES, { ...SETTINGS, ...over }, ITEMS, ids);
  let at = T0;
  const scan = (device: string, data: string) => wf.handle(device, { kind: 'scan', data, raw: data, at: (at += 10) });
  const weigh = (kg: number, ms = 1500, device = 'scale1') => {
    const out: WorkflowEffect[] = [];
    for (let t = 0; t < ms; t += 100) out.push(...wf.handle(device, { kind: 'weight', weightKg: kg, stable: true, unit: 'kg', raw: `ST,NT,+${kg}kg`, at: (at += 100) }));
    return out;
  };
  const tag = (device: string, epc: string, antenna?: number, dt = 20) =>
    wf.handle(device, { kind: 'tag', epc, raw: `BB0222${epc}`, at: (at += dt), ...(antenna ? { antenna } : {}) } as Reading);
  return { wf, ids, scan, weigh, tag, now: () => at, advance: (ms: number) => (at += ms) };
}

const movements = (effects: WorkflowEffect[]) => effects.filter((e): e is Extract<WorkflowEffect, { type: 'movement' }> => e.type === 'movement');
const asMovement = (e: Extract<WorkflowEffect, { type: 'movement' }>, seq = 1) =>
  Movement.parse({ v: 1, id: '01JDQ7ZK3M8Y2V5XKJ4N6P9R0T', edge: 'e1', seq, site: 's1', ...e.draft });

describe('Workflows: receiving dock', () => {
  it('a GS1 label becomes a receive of the cached sku, with the label raw and the operator', () => {
    const { scan } = setup();
    scan('dock1', 'OP:W-7');
    const [m] = movements(scan('dock1', ']C101095060001343521726123110LOT1\x1d3712'));
    expect(m!.draft).toMatchObject({ kind: 'receive', sku: 'CEM-50', gtin: GTIN, batch: 'LOT1', expiry: '2026-12-31', qty: 12, uom: 'bag', operator: 'W-7', location: 'DOCK-1' });
    expect(m!.draft.raw).toBe(']C101095060001343521726123110LOT1\x1d3712');
    expect(() => asMovement(m!)).not.toThrow();
  });

  it('sessions are per scanner: one dock\'s context does not leak into another counter', () => {
    const { scan } = setup();
    scan('dock1', 'MODE:ISSUE');
    expect(movements(scan('counter1', 'SKU-1'))[0]!.draft.kind).toBe('receive');
    expect(movements(scan('dock1', 'SKU-1'))[0]!.draft.kind).toBe('issue');
  });
});

describe('Workflows: issue to project and crew', () => {
  it('crew badge + project code, then items: issues to that project and crew', () => {
    const { scan } = setup({ issueRequires: ['project', 'crew'] });
    scan('counter1', 'MODE:ISSUE');
    const early = scan('counter1', 'REBAR-12');
    expect(early).toEqual([expect.objectContaining({ type: 'refused', code: 'SG_ERR_SCAN_CONTEXT', message: 'issue needs PRJ: and CREW: scanned first', feedback: ['counter1'] })]);
    expect(scan('counter1', 'CREW:C-12')[0]).toMatchObject({ type: 'control', code: 'CREW' });
    expect(scan('counter1', 'stockgate:project/P-2026-017/FOUNDATION')[0]).toMatchObject({ type: 'control', context: { project: 'P-2026-017', stage: 'FOUNDATION' } });
    scan('counter1', 'QTY:4');
    const [m] = movements(scan('counter1', 'REBAR-12'));
    expect(m!.draft).toMatchObject({ kind: 'issue', sku: 'REBAR-12', qty: 4, project: 'P-2026-017', stage: 'FOUNDATION', crew: 'C-12' });
    // A plain PRJ: code works as well; a stage belongs to its project, so another project clears it (issue 9).
    scan('counter1', 'PRJ:P-9');
    const other = movements(scan('counter1', 'REBAR-12'))[0]!.draft;
    expect(other).toMatchObject({ project: 'P-9' });
    expect(other).not.toHaveProperty('stage');
  });
});

describe('Workflows: weigh station', () => {
  it('scan then place: one movement from the scale, with the scan context and both raws', () => {
    const { scan, weigh } = setup();
    weigh(0);
    scan('wscan', 'CREW:C-3');
    const armed = scan('wscan', 'SAND-0/4');
    expect(armed).toEqual([expect.objectContaining({ type: 'event', msg: 'weigh station armed: place the load', data: expect.objectContaining({ countBy: 'weight (kg)' }) })]);
    const effects = weigh(250.4, 3000);
    const ms = movements(effects);
    expect(ms).toHaveLength(1);
    expect(ms[0]!.device).toBe('scale1');
    expect(ms[0]!.okFeedback).toEqual(['wscan', 'scale1']);
    expect(ms[0]!.draft).toMatchObject({ sku: 'SAND-0/4', qty: 250.4, uom: 'kg', crew: 'C-3', device: { id: 'scale1', type: 'scale-ascii' }, raw: 'SAND-0/4 | ST,NT,+250.4kg' });
    expect(() => asMovement(ms[0]!)).not.toThrow();
  });

  it('counts pieces by the cached unit weight of a GS1-scanned item; SAMPLE: at the scanner', () => {
    const { scan, weigh } = setup();
    weigh(0);
    scan('wscan', ']E04012345678901');
    expect(movements(weigh(5)).map((m) => [m.draft.sku, m.draft.qty, m.draft.uom])).toEqual([['BOLT-M8', 100, 'pcs']]);
    weigh(0);
    scan('wscan', 'WASHER-M8');
    expect(scan('wscan', 'SAMPLE:20')).toEqual([expect.objectContaining({ type: 'event', msg: 'weigh station sampling' })]);
    expect(weigh(0.2)).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'event', msg: 'weigh station sampled piece weight', data: expect.objectContaining({ apwKg: 0.01 }) })]));
    weigh(0);
    expect(movements(weigh(3)).map((m) => m.draft.qty)).toEqual([300]);
  });

  it('refusals reach the scanner and the scale; SAMPLE: elsewhere is refused', () => {
    const { scan, weigh } = setup();
    weigh(0);
    expect(weigh(10)).toEqual([expect.objectContaining({ type: 'refused', code: 'SG_ERR_WEIGH_NO_ITEM', feedback: ['wscan', 'scale1'] })]);
    expect(scan('dock1', 'SAMPLE:10')).toEqual([expect.objectContaining({ type: 'refused', message: 'SAMPLE: this scanner is not at a weigh station' })]);
    expect(scan('wscan', 'SAMPLE:x')).toEqual([expect.objectContaining({ type: 'refused', message: "SAMPLE: 'x' is not a piece count 1-100000" })]);
  });

  it('count-by-weight warnings become warning effects', () => {
    const { scan, weigh } = setup();
    weigh(0);
    scan('wscan', ']E04012345678901');
    const effects = weigh(2.52);
    expect(effects).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'warning', code: 'SG_WARN_COUNT_DOUBTFUL_COUNT' })]));
  });

  it('monitors scales outside any station (drift, weight) without making movements', () => {
    const { wf, weigh } = setup();
    expect(weigh(0.004, 1500, 'scale2').filter((e) => e.type === 'movement')).toEqual([]);
    expect(wf.health().scales.find((s) => s.device === 'scale2')).toMatchObject({ zeroDriftKg: 0.004, weightKg: 0.004, stable: true });
  });
});

describe('Workflows: RFID', () => {
  const EPC = encodeSgtin96({ gtin: GTIN, serial: 1234, filter: 1, companyPrefixLength: 7 });
  const EPC_UNKNOWN = encodeSgtin96({ gtin: '04012345000009', serial: 77, filter: 1, companyPrefixLength: 7 });

  it('zone: 50 reads of one EPC are one receive of one unit, with the paired scanner context', () => {
    const { scan, tag } = setup();
    scan('dock1', 'OP:W-9');
    const ms: WorkflowEffect[] = [];
    for (let i = 0; i < 50; i++) ms.push(...tag('gate', EPC, 1));
    const mv = movements(ms);
    expect(mv).toHaveLength(1);
    expect(mv[0]!.draft).toMatchObject({ kind: 'receive', epc: EPC, gtin: GTIN, serial: '1234', sku: 'CEM-50', qty: 1, uom: 'bag', operator: 'W-9', location: 'DOCK-1', raw: `BB0222${EPC}` });
    expect(mv[0]!.identity).toBe(`epc:${EPC}`);
    expect(mv[0]!.okFeedback).toEqual(['gate']);
    expect(() => asMovement(mv[0]!)).not.toThrow();
  });

  it('the GTIN-14 is the sku when no cached item maps it; a non-GS1 EPC goes by its EPC', () => {
    const { tag } = setup();
    expect(movements(tag('gate', EPC_UNKNOWN))[0]!.draft).toMatchObject({ sku: '04012345000009', gtin: '04012345000009', serial: '77' });
    const raw = movements(tag('gate', 'E28068940000500A9D2298C6'))[0]!.draft;
    expect(raw).toMatchObject({ epc: 'E28068940000500A9D2298C6' });
    expect(raw.sku).toBeUndefined();
  });

  it('read again after departure while in stock: flagged duplicate, still a receive for the cloud', () => {
    const { wf, ids, tag, advance } = setup();
    const [first] = movements(tag('gate', EPC));
    expect(first!.duplicate).toBeUndefined();
    wf.settle();
    ids.set.add(`epc:${EPC}`); // the agent committed it
    advance(6000);
    expect(wf.tick(advance(0)).map((e) => e.type)).toEqual(['event']); // departed: no movement by default
    const [again] = movements(tag('gate', EPC));
    expect(again).toMatchObject({ duplicate: true, draft: { kind: 'receive' } });
  });

  it('a duplicate inside one group commit is caught before the identity table knows it', () => {
    const { tag, advance } = setup();
    movements(tag('gate', EPC));
    advance(6000);
    expect(movements(tag('gate', EPC))[0]!.duplicate).toBe(true);
  });

  it('portal: outside -> inside receives, inside -> outside issues, at the reader location', () => {
    const { wf, tag, advance, now } = setup();
    tag('portal', EPC, 1);
    tag('portal', EPC, 2);
    expect(movements(wf.tick(now() + 1000))).toEqual([]);
    const [inbound] = movements(wf.tick(advance(2500)));
    expect(inbound!.draft).toMatchObject({ kind: 'receive', location: 'GATE-2', epc: EPC });
    expect(inbound!.info).toMatchObject({ direction: 'in', antennas: [1, 2] });
    wf.settle();
    tag('portal', EPC, 2);
    tag('portal', EPC, 1);
    expect(movements(wf.tick(advance(2500)))[0]!.draft.kind).toBe('issue');
    tag('portal', EPC_UNKNOWN, 2);
    expect(wf.tick(advance(2500))).toEqual([expect.objectContaining({ type: 'warning', code: 'SG_WARN_RFID_DIRECTION' })]);
  });

  it('zone departures can issue when configured', () => {
    const { wf, tag, advance } = setup({ rfid: [{ reader: 'gate', depart: 'issue', arrive: 'none', departureMs: 3000 }] });
    expect(movements(tag('gate', EPC))).toEqual([]);
    expect(movements(wf.tick(advance(3000)))[0]!.draft.kind).toBe('issue');
  });
});

describe('Workflows: configuration', () => {
  it('refuses stations and readers that name missing or wrong devices', () => {
    const { wf } = setup();
    expect(() => wf.configure({ ...SETTINGS, stations: [{ scanner: 'nope', scale: 'scale1' }] })).toThrow("stations.0.scanner: no device 'nope'");
    expect(() => wf.configure({ ...SETTINGS, stations: [{ scanner: 'dock1', scale: 'gate' }] })).toThrow("stations.0.scale: device 'gate' (rfid-m100) reads tag, not weight");
    expect(() => wf.configure({ ...SETTINGS, rfid: [{ reader: 'dock1' }] })).toThrow(/rfid.0.reader/);
    expect(() => wf.configure({ ...SETTINGS, rfid: [{ reader: 'portal', role: 'portal', outsideAntenna: 1 }] })).toThrow(/portal needs/);
  });

  it('keeps session context and station state across an unrelated change; a new default mode applies', () => {
    const { wf, scan, weigh } = setup();
    weigh(0);
    scan('dock1', 'CREW:C-1');
    scan('wscan', 'SAND');
    wf.configure({ ...SETTINGS, mode: 'issue', unknownItems: 'reject' });
    expect(wf.session('dock1').context).toMatchObject({ crew: 'C-1', mode: 'issue' });
    expect(movements(weigh(3))).toHaveLength(1); // still armed
    expect(scan('dock1', 'UNKNOWN-SKU')).toEqual([expect.objectContaining({ type: 'refused', code: 'SG_ERR_ITEM_UNKNOWN' })]);
    expect(scan('dock1', 'PUMP-1')).toEqual([expect.objectContaining({ type: 'refused', code: 'SG_ERR_ITEM_SERIAL' })]);
  });

  it('device status readings are warnings, once per change of status', () => {
    const { wf } = setup();
    const overload = () => wf.handle('scale1', { kind: 'status', status: 'overload', raw: 'OL', at: T0 });
    expect(overload()).toEqual([expect.objectContaining({ type: 'warning', code: 'SG_DEVICE_STATUS', message: 'scale1: overload' })]);
    expect(overload()).toEqual([]);
    wf.handle('scale1', { kind: 'weight', weightKg: 1, stable: true, unit: 'kg', raw: 'x', at: T0 });
    expect(overload()).toHaveLength(1);
  });
});
