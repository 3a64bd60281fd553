import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Ingester, type IngesterOptions } from '../../../cloud/ingest/ingester.js';
import type { Store } from '../../../cloud/store/store.js';
import { ROW_COLUMNS, deriveAckKey, topics, verifyAck, type Ack, type Movement, type Reject } from '../../../protocols/mqtt/index.js';
import { RecordingBus, storeBackends } from '../../helpers/ingest-harness.js';
import { batch, encodeRowsBatch, movement } from '../../helpers/movements.js';
import { waitFor } from '../../helpers/procs.js';

/**
 * The ingester reads batch version 2 (the rows form, protocols/mqtt/movement-rows.ts) on both
 * stores: it lands in the ledger exactly as version 1 does, its bad rows are refused alone with the
 * row named, a bad envelope names no seqs (the edge keeps them), and the offer in the ack goes only
 * to an edge that asked, signed.
 */
const backends = storeBackends('rows');

const SITE = 'site-R';
const EDGE = 'edge-1';
const TOPIC = topics.movements(SITE, EDGE);
const AT = '2026-12-07T03:00:00.000Z';
const KEY = deriveAckKey('edge-secret');

/** Movements with every kind of field: an EPC, a transfer, a project with its stage, documents, a decimal. */
function mixed(from: number): Movement[] {
  const base = { site: SITE, edge: EDGE };
  return [
    movement({ ...base, seq: from, sku: 'SKU-A', qty: 2.5, uom: 'kg', operator: 'W-1' }),
    movement({ ...base, seq: from + 1, sku: undefined, epc: '3034257BF7194E4000001A85', raw: '3034257BF7194E4000001A85' }),
    movement({ ...base, seq: from + 2, kind: 'transfer', toLocation: 'RACK-9', sku: 'SKU-A', qty: 1, uom: 'kg' }),
    movement({ ...base, seq: from + 3, kind: 'issue', sku: 'SKU-B', project: 'P-1', stage: 'S-2', crew: 'C-3', req: 'REQ-1' }),
    movement({ ...base, seq: from + 4, sku: 'SKU-C', batch: 'B1', expiry: '2027-03-31', serial: 'SN-1', po: 'PO-1', raw: 'a "quoted" \\ raw\n' }),
  ].map((m) => JSON.parse(JSON.stringify(m)) as Movement);
}

/** What the ledger keeps of a movement, for comparing two ledgers row by row. */
const kept = async (store: Store) =>
  (await store.movements({ site: SITE, limit: 100 })).map((e) => {
    const { pos: _p, appliedAt: _a, hash: _h, ...rest } = e as unknown as Record<string, unknown>;
    return rest;
  });

describe.each(backends)('Ingester: the rows form, batch version 2 ($name)', ({ open }) => {
  let store: Store;
  let destroy: () => Promise<void>;
  let bus: RecordingBus;
  let ing: Ingester;
  const make = (o: IngesterOptions = {}) => (ing = new Ingester(bus, store, pino({ level: 'silent' }), { deadLetterRatePerSec: 1e6, ...o }));
  const feed = async (...payloads: string[]) => {
    for (const p of payloads) ing.onMessage(TOPIC, Buffer.from(p));
    await ing.drain();
  };

  beforeEach(async () => {
    ({ store, destroy } = await open());
    bus = new RecordingBus();
    make();
  });
  afterEach(() => destroy());

  it('a rows batch lands exactly as the same movements sent as version 1 (another ledger), and a resend in the other form is a duplicate', async () => {
    const ms = mixed(1);
    await feed(encodeRowsBatch(SITE, EDGE, AT, ms));
    expect(ing.stats.applied).toBe(5);
    expect(bus.rejects()).toEqual([]);
    const viaRows = await kept(store);

    const other = await open();
    try {
      const bus2 = new RecordingBus();
      const ing2 = new Ingester(bus2, other.store, pino({ level: 'silent' }));
      ing2.onMessage(TOPIC, Buffer.from(JSON.stringify(batch(SITE, EDGE, ms))));
      await ing2.drain();
      expect(viaRows).toEqual(await kept(other.store));
      expect(viaRows).toHaveLength(5);
    } finally {
      await other.destroy();
    }

    // The same movements again as version 1: already applied, acked as duplicates.
    await feed(JSON.stringify(batch(SITE, EDGE, ms)));
    expect(ing.stats.applied).toBe(5);
    expect(bus.acks().at(-1)).toMatchObject({ ranges: [[1, 5]], duplicates: 5 });
  });

  it('a bad row is refused alone, the row named; the others apply and every seq is acked', async () => {
    const ms = mixed(1);
    const body = JSON.parse(encodeRowsBatch(SITE, EDGE, AT, ms)) as { rows: unknown[][] };
    const qty = ROW_COLUMNS.indexOf('qty');
    body.rows[1]![qty] = 1.0005; // more than 3 decimals
    body.rows[3] = [...body.rows[3]!, ...Array(ROW_COLUMNS.length)].slice(0, ROW_COLUMNS.length + 1); // one value too many
    await feed(JSON.stringify(body));
    expect(ing.stats.applied).toBe(3);
    const [rej] = bus.rejects();
    expect(rej).toMatchObject({ reason: 'INVALID_SCHEMA', ranges: [[2, 2], [4, 4]], ids: [ms[1]!.id, ms[3]!.id] });
    expect(rej!.message).toMatch(/^rows\[1\]\.qty: /);
    const dead = await store.deadLetters({ limit: 5 });
    expect(dead.map((d) => d.message).sort()).toEqual([expect.stringMatching(/^rows\[1\]\.qty: /), `rows[3]: ${ROW_COLUMNS.length + 1} values, cols names ${ROW_COLUMNS.length}`].sort());
    expect(bus.acks().at(-1)!.ranges).toEqual([[1, 5]]);
  });

  it('a bad envelope is refused naming the field and no seq: the edge keeps them all', async () => {
    const good = JSON.parse(encodeRowsBatch(SITE, EDGE, AT, mixed(1))) as Record<string, unknown>;
    for (const [over, message] of [
      [{ cols: ['id', 'seq', 'colour'] }, /'colour' is not a movement column/],
      [{ cols: ['id', 'id'] }, /^cols: a column is named twice$/],
      [{ rows: [] }, /^rows: /],
      [{ sentAt: 'yesterday' }, /^sentAt: /],
    ] as const) {
      const before = bus.rejects().length;
      await feed(JSON.stringify({ ...good, ...over }));
      const rej = bus.rejects()[before]!;
      expect(rej.reason).toBe('INVALID_SCHEMA');
      expect(rej.message).toMatch(message);
      expect(rej.ranges).toBeUndefined();
    }
    expect(ing.stats.applied).toBe(0);
    expect(bus.acks()).toEqual([]);
    // Claiming another edge is a TOPIC_MISMATCH, and names no seq of this edge either.
    await feed(encodeRowsBatch(SITE, 'edge-2', AT, mixed(1).map((m) => ({ ...m, edge: 'edge-2' }))));
    expect(bus.rejects().at(-1)).toMatchObject({ reason: 'TOPIC_MISMATCH' });
    expect(bus.rejects().at(-1)!.ranges).toBeUndefined();
  });

  it('the offer: signed, only to an edge that asked; a cloud that does not read rows answers UNSUPPORTED_VERSION naming no seq', async () => {
    make({ ackKey: async () => KEY });
    const asks = { ...batch(SITE, EDGE, mixed(1)), batchVersions: [1, 2] };
    // One group commit each: a group acks an edge once (ingester.test.ts), offering the rows form if any of its messages asked.
    await feed(JSON.stringify(batch(SITE, EDGE, mixed(10))));
    await feed(JSON.stringify(asks));
    await feed(encodeRowsBatch(SITE, EDGE, AT, mixed(20)));
    await waitFor(() => bus.acks().length === 3, 'three signed acks'); // a signed publish awaits the key
    const [older, asked, rows] = bus.acks();
    expect(older!.batchVersions).toBeUndefined();
    expect(verifyAck(KEY, SITE, older!, older!.sig)).toBe(true);
    expect(asked!.batchVersions).toEqual([1, 2]);
    expect(rows!.batchVersions).toEqual([1, 2]);
    expect(verifyAck(KEY, SITE, asked!, asked!.sig)).toBe(true);
    // The offer is under the signature: stripped, the ack no longer verifies.
    expect(verifyAck(KEY, SITE, { ...asked!, batchVersions: undefined }, asked!.sig)).toBe(false);

    make({ readRows: false });
    const before = bus.published.length;
    await feed(JSON.stringify(asks), encodeRowsBatch(SITE, EDGE, AT, mixed(30)));
    const later = bus.published.slice(before).map((p) => JSON.parse(p.payload) as Ack & Reject);
    expect(later.find((p) => 'ranges' in p && p.ranges[0]![0] === 1)!.batchVersions).toBeUndefined();
    const rej = later.find((p) => p.reason !== undefined)!;
    expect(rej).toMatchObject({ reason: 'UNSUPPORTED_VERSION', message: 'v: 2 is not 1' });
    expect(rej.ranges).toBeUndefined();
    expect((await store.movements({ site: SITE, limit: 100 })).length).toBe(15);
  });
});
