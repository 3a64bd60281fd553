import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Reading } from '../../devices/driver.js';
import { CountTally } from '../../edge/count-tally.js';
import { MemoryItems } from '../../edge/item-cache.js';
import { openStateDb } from '../../edge/state-db.js';
import { SqliteTallyStore } from '../../edge/tally-store.js';
import { Workflows, type WorkflowDevice, type WorkflowEffect, type WorkflowSettings } from '../../edge/workflows.js';
import { Movement } from '../../protocols/mqtt/index.js';
import { tempDir } from '../helpers/procs.js';

const T0 = Date.parse('2026-11-22T08:00:00.000Z');
const DEVICES: WorkflowDevice[] = [
  { name: 'dock1', driver: 'scanner', reads: 'scan' },
  { name: 'wscan', driver: 'scanner', reads: 'scan' },
  { name: 'scale1', driver: 'scale-ascii', reads: 'weight' },
];
const SETTINGS: WorkflowSettings = {
  mode: 'receive',
  location: 'BIN-1',
  uom: 'ea',
  issueRequires: [],
  unknownItems: 'accept',
  stations: [{ scanner: 'wscan', scale: 'scale1', divisionKg: 0.01 }],
  rfid: [],
  sessionIdleMin: 30,
};
const ITEMS = new MemoryItems([
  { sku: 'BOLT-M8', gtin: '04012345678901', uom: 'ea', unitWeightKg: 0.05 },
  { sku: 'CEM-50', gtin: '09506000134352', uom: 'bag', unitWeightKg: 50 },
]);

function setup(store?: SqliteTallyStore, over: Partial<WorkflowSettings> = {}) {
  const wf = new Workflows(DEVICES, { ...SETTINGS, ...over }, ITEMS, { inStock: () => false }, store);
  let at = T0;
  const scan = (data: string, device = 'dock1') => wf.handle(device, { kind: 'scan', data, raw: `${data}\r`, at: (at += 1000) });
  const weigh = (kg: number, ms = 1500) => {
    const out: WorkflowEffect[] = [];
    for (let t = 0; t < ms; t += 100) out.push(...wf.handle('scale1', { kind: 'weight', weightKg: kg, stable: true, unit: 'kg', raw: `ST,NT,+${kg}kg`, at: (at += 100) } as Reading));
    return out;
  };
  return { wf, scan, weigh, now: () => at };
}
const movements = (effects: WorkflowEffect[]) => effects.filter((e): e is Extract<WorkflowEffect, { type: 'movement' }> => e.type === 'movement');
const types = (effects: WorkflowEffect[]) => effects.map((e) => e.type);

describe('count mode accumulates (issue 9, C6)', () => {
  it('three scans of a piece are one count of 3, sent at COUNT:END, stamped with the end time; each scan is heard', () => {
    const { scan, now } = setup();
    scan('MODE:COUNT');
    for (let i = 1; i <= 3; i++) {
      const out = scan('BOLT-M8');
      expect(out).toEqual([expect.objectContaining({ type: 'tallied', device: 'dock1', label: 'BIN-1/BOLT-M8', total: i, uom: 'ea', scans: i, feedback: ['dock1'] })]);
    }
    const end = scan('COUNT:END');
    expect(types(end)).toEqual(['control', 'movement']);
    const [m] = movements(end);
    expect(m!.draft).toMatchObject({ kind: 'count', sku: 'BOLT-M8', qty: 3, uom: 'ea', location: 'BIN-1', ts: new Date(now()).toISOString() });
    expect(m!.draft.raw).toBe('BOLT-M8\r | BOLT-M8\r | BOLT-M8\r | COUNT:END\r');
    expect(m!.okFeedback).toEqual(['dock1']);
    expect(() => Movement.parse({ v: 1, id: '01JDQ7ZK3M8Y2V5XKJ4N6P9R0T', edge: 'e1', seq: 1, site: 's1', ...m!.draft })).not.toThrow();
    // The tally is empty afterwards: a second COUNT:END is refused.
    expect(scan('COUNT:END')).toEqual([expect.objectContaining({ type: 'refused', code: 'SG_ERR_COUNT_EMPTY' })]);
  });

  it('one line per (location, sku, batch, project, uom); QTY: and GS1 counts add their quantity exactly', () => {
    const { scan } = setup();
    scan('MODE:COUNT');
    scan('QTY:0.1');
    scan('BOLT-M8');
    scan('BOLT-M8');
    scan('QTY:0.1');
    scan('BOLT-M8');
    scan('(01)04012345678901(10)L2(37)12');
    scan('LOC:BIN-2');
    scan('BOLT-M8');
    scan('(01)09506000134352(3103)100000'); // 100 kg of a 50 kg bag: 2 bags
    scan('CEM-50');
    const lines = movements(scan('MODE:RECEIVE')).map((m) => [m.draft.location, m.draft.sku, m.draft.batch ?? '', m.draft.qty, m.draft.uom]);
    expect(lines).toEqual([
      ['BIN-1', 'BOLT-M8', '', 0.3, 'ea'],
      ['BIN-1', 'BOLT-M8', 'L2', 12, 'ea'],
      ['BIN-2', 'BOLT-M8', '', 0.1, 'ea'],
      ['BIN-2', 'CEM-50', '', 2.1, 'bag'],
    ]);
  });

  it('leaving count mode with MODE: sends the count; MODE:COUNT again while counting keeps it', () => {
    const { scan } = setup();
    scan('MODE:COUNT');
    scan('BOLT-M8');
    expect(movements(scan('MODE:COUNT'))).toEqual([]);
    scan('BOLT-M8');
    const out = scan('MODE:ISSUE');
    expect(movements(out).map((m) => [m.draft.kind, m.draft.qty])).toEqual([['count', 2]]);
    expect(movements(scan('BOLT-M8')).map((m) => m.draft.kind)).toEqual(['issue']);
  });

  it('a serialised unit scanned twice counts once; COUNT:CANCEL drops the count', () => {
    const { scan } = setup();
    scan('MODE:COUNT');
    expect(types(scan('(01)04012345678901(21)S1'))).toEqual(['tallied']);
    expect(scan('(01)04012345678901(21)S1')).toEqual([expect.objectContaining({ type: 'refused', code: 'SG_ERR_COUNT_DUPLICATE', feedback: ['dock1'] })]);
    expect(scan('(01)04012345678901(21)S2')).toEqual([expect.objectContaining({ type: 'tallied', total: 2 })]);
    expect(scan('COUNT:CANCEL')).toEqual([expect.objectContaining({ type: 'control', code: 'COUNT' }), expect.objectContaining({ type: 'warning', code: 'SG_WARN_COUNT_CANCELLED' })]);
    expect(scan('COUNT:END')).toEqual([expect.objectContaining({ code: 'SG_ERR_COUNT_EMPTY' })]);
    expect(scan('COUNT:NOW')).toEqual([expect.objectContaining({ type: 'refused', code: 'SG_ERR_SCAN_CONTROL' })]);
  });

  it('at a weigh station each placement in count mode adds to the count', () => {
    const { scan, weigh } = setup();
    weigh(0);
    scan('MODE:COUNT', 'wscan');
    scan('BOLT-M8', 'wscan');
    expect(weigh(5)).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'tallied', total: 100, feedback: ['wscan', 'scale1'] })]));
    weigh(0);
    scan('BOLT-M8', 'wscan');
    weigh(2.5);
    const [m] = movements(scan('COUNT:END', 'wscan'));
    expect(m!.draft).toMatchObject({ kind: 'count', sku: 'BOLT-M8', qty: 150, uom: 'ea' });
  });

  it('a remote config taking the sessions out of count mode ends their counts', () => {
    const { wf, scan } = setup(undefined, { mode: 'count' });
    scan('BOLT-M8');
    wf.configure({ ...SETTINGS, mode: 'receive' });
    expect(movements(wf.takeDeferred()).map((m) => [m.draft.kind, m.draft.qty])).toEqual([['count', 1]]);
  });

  it('bounds the open count', () => {
    const t = new CountTally();
    const d = (sku: string) => ({ ts: '2026-11-22T08:00:00.000Z', location: 'L', kind: 'count' as const, sku, qty: 1, uom: 'ea', device: { id: 'd', type: 'scanner' }, raw: sku });
    for (let i = 0; i < 10_000; i++) expect(t.add(d(`S${i}`), T0).ok).toBe(true);
    expect(t.add(d('ONE-MORE'), T0)).toMatchObject({ ok: false, code: 'SG_ERR_COUNT_FULL' });
    expect(t.add(d('S1'), T0).ok).toBe(true); // an existing line still adds
  });
});

describe('an open count survives a restart (state.db)', () => {
  it('a new agent on the same state.db is back in count mode with the tally; the count is cleared only once committed', () => {
    const path = join(tempDir(), 'state.db');
    const db1 = openStateDb(path);
    const a = setup(new SqliteTallyStore(db1));
    a.scan('MODE:COUNT');
    a.scan('BOLT-M8');
    a.scan('BOLT-M8');
    db1.close();

    const db2 = openStateDb(path);
    const b = setup(new SqliteTallyStore(db2));
    expect(b.wf.restoreTallies()).toEqual([expect.objectContaining({ type: 'event', msg: 'open count restored' })]);
    expect(b.wf.session('dock1').context.mode).toBe('count');
    expect(b.scan('BOLT-M8')).toEqual([expect.objectContaining({ type: 'tallied', total: 3 })]);
    const [m] = movements(b.scan('COUNT:END'));
    expect(m!.draft.qty).toBe(3);
    // Not committed yet (a crash now): the count is still in state.db.
    expect(new SqliteTallyStore(db2).load().get('dock1')?.[0]?.qty).toBe(3);
    // The outbox refused it: the count is open again, in memory and on disk.
    b.wf.settle(false);
    expect(movements(b.scan('COUNT:END'))[0]!.draft.qty).toBe(3);
    b.wf.settle(true);
    expect(new SqliteTallyStore(db2).load().size).toBe(0);
    db2.close();
  });
});
