import { createHash } from 'node:crypto';
import fc from 'fast-check';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEAD_LETTER_PREFIX_BYTES, Ingester, type IngesterOptions } from '../../../cloud/ingest/ingester.js';
import type { Store } from '../../../cloud/store/store.js';
import { qtyProblem } from '../../../protocols/ledger/quantity.js';
import { MAX_QTY, Movement, describeIssue, topics } from '../../../protocols/mqtt/index.js';
import { RecordingBus, storeBackends } from '../../helpers/ingest-harness.js';
import { batch, movement } from '../../helpers/movements.js';

/**
 * The ingester's poison-input classes (issue 8, deliverables 1, 6 and 12), on both stores: depth,
 * size, numbers, strings and UTF-8, amplification. Every class is a property over generated
 * payloads, not the single case of the finding; the findings' exact payloads are included.
 *
 * The bus is a recorder (the ingester sees only the `Bus` interface; the brokers have their own
 * tests); the stores are the real SQLite file and the real PostgreSQL.
 */
const backends = storeBackends('ingest');

const SITE = 'site-F';
const EDGE = 'edge-1';
const TOPIC = topics.movements(SITE, EDGE);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A valid one-movement batch as text, with `mv` overriding movement fields. */
const valid = (seq: number, mv: Record<string, unknown> = {}) => JSON.stringify(batch(SITE, EDGE, [movement({ site: SITE, edge: EDGE, seq, ...mv })]));
/** A batch whose single movement is the raw JSON text `movementJson` (spliced, so it can be anything). */
const spliced = (movementJson: string) => `{"v":1,"site":"${SITE}","edge":"${EDGE}","sentAt":"2026-12-06T03:00:00.000Z","movements":[${movementJson}]}`;

describe.each(backends)('Ingester poison-input classes ($name)', ({ open }) => {
  let store: Store;
  let destroy: () => Promise<void>;
  let bus: RecordingBus;
  let ing: Ingester;
  let seq = 0;
  const make = (o: IngesterOptions = {}) => {
    ing = new Ingester(bus, store, pino({ level: 'silent' }), { deadLetterRatePerSec: 1e6, ...o });
    return ing;
  };
  /** Feed payloads, drain, and return the dead letters they made (newest first). */
  const feed = async (...payloads: Array<string | Buffer>) => {
    const before = ing.stats.deadLetters;
    for (const p of payloads) ing.onMessage(TOPIC, typeof p === 'string' ? Buffer.from(p) : p);
    await ing.drain();
    const made = ing.stats.deadLetters - before;
    return made ? await store.deadLetters({ limit: made }) : [];
  };
  /** After every class: a valid movement still applies, and no balance is non-finite. */
  const stillHealthy = async () => {
    const s = ++seq + 1_000_000;
    await feed(valid(s, { sku: 'CANARY', qty: 1 }));
    expect((await store.stock({ site: SITE, sku: 'CANARY' })).reduce((a, r) => a + r.onHand, 0)).toBeGreaterThan(0);
    for (const r of await store.stock({ site: SITE })) expect(Number.isFinite(r.onHand)).toBe(true);
  };

  beforeEach(async () => {
    ({ store, destroy } = await open());
    bus = new RecordingBus();
    make();
  });
  afterEach(() => destroy());

  it('depth: JSON nested past 16 levels anywhere is INVALID_JSON before parsing; the finding-1 payload no longer throws', async () => {
    // Finding 1: a 20 KB batch whose movement is an array nested 10,000 deep.
    const finding1 = Buffer.from(spliced('['.repeat(10_000) + ']'.repeat(10_000)));
    expect(finding1.length).toBeGreaterThan(19_000);
    const [d] = await feed(finding1);
    expect(d).toMatchObject({ reason: 'INVALID_JSON', site: SITE, edge: EDGE, sha256: sha(finding1), bytes: finding1.length });
    expect(d!.message).toMatch(/nested deeper than 16/);
    expect(Buffer.byteLength(d!.payload)).toBeLessThanOrEqual(DEAD_LETTER_PREFIX_BYTES);
    expect(finding1.toString('utf8').startsWith(d!.payload)).toBe(true);

    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 17, max: 3000 }), fc.constantFrom('[', '{"a":'), fc.constantFrom('movement', 'envelope', 'field'), async (depth, open, where) => {
        const close = open === '[' ? ']' : '}';
        const deep = open.repeat(depth) + '1' + close.repeat(depth);
        const text = where === 'movement' ? spliced(deep) : where === 'envelope' ? `{"v":1,"x":${deep}}` : spliced(`{"v":1,"sku":${deep}}`);
        const dl = await feed(text);
        expect(dl.map((x) => x.reason)).toEqual(['INVALID_JSON']);
      }),
      { numRuns: 40, seed: 8 },
    );
    // Brackets inside strings are not nesting: a valid movement with them in `raw` applies.
    const r0 = await feed(valid(++seq, { raw: '[[[[[[[[[[[[[[[[[[[[[[[[[[[[["{{{{{{{{{{{{{{{{{{{{{{{{\\"' }));
    expect(r0).toEqual([]);
    await stillHealthy();
  });

  it('size: a payload over the limit is TOO_LARGE without parsing, and its dead letter holds a bounded prefix + SHA-256', async () => {
    make({ maxPayloadBytes: 64 * 1024, deadLetterRatePerSec: 1e6 });
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 64 * 1024 + 1, max: 600 * 1024 }), fc.constantFrom('json', 'garbage', 'utf8'), async (size, kind) => {
        const body = kind === 'json' ? Buffer.from(spliced(JSON.stringify({ raw: 'x'.repeat(size) }))) : kind === 'utf8' ? Buffer.from('é'.repeat(size)) : Buffer.alloc(size, 0xff);
        const [d] = await feed(body);
        expect(d).toMatchObject({ reason: 'TOO_LARGE', sha256: sha(body), bytes: body.length });
        expect(Buffer.byteLength(d!.payload)).toBeLessThanOrEqual(DEAD_LETTER_PREFIX_BYTES * 2); // base64 of a prefix is at most 4/3 of it
      }),
      { numRuns: 15, seed: 9 },
    );
    await stillHealthy();
  });

  it('numbers: |qty| <= 1e9 and finite, whatever the JSON number; balances stay finite (finding 7)', async () => {
    // Finding 7: 1e308 twice made a balance +Infinity. JSON 1e999 parses to Infinity.
    for (const lit of ['1e308', '-1e308', '1e999', '-1e999', '1000000000.5', '1e10']) {
      const text = valid(++seq, { sku: 'BIG' }).replace('"qty":1', `"qty":${lit}`);
      expect(text).toContain(`"qty":${lit}`);
      const dl = await feed(text, text);
      expect(dl.map((d) => d.reason)).toEqual(['INVALID_SCHEMA', 'INVALID_SCHEMA']);
      expect(dl[0]!.message).toMatch(/qty/);
    }
    expect(await store.stock({ site: SITE, sku: 'BIG' })).toEqual([]);
    let expected = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.double({ noNaN: true, min: -1e12, max: 1e12 }), fc.integer({ min: -2e12, max: 2e12 }).map((m) => m / 1000)), async (qty) => {
        // Both rules on one schema: |qty| <= 1e9 (issue 8) and at most 3 decimals (issue 9).
        const ok = qty > 0 && qty <= MAX_QTY && qtyProblem(qty) === undefined;
        const dl = await feed(valid(++seq, { sku: 'NUM', qty }));
        expect(dl.length === 0).toBe(ok);
        if (ok) expected += qty;
      }),
      { numRuns: 150, seed: 10 },
    );
    const total = (await store.stock({ site: SITE, sku: 'NUM' })).reduce((a, r) => a + r.onHand, 0);
    expect(Number.isFinite(total)).toBe(true);
    expect(total).toBeCloseTo(expected, -1);
    // The REST path shares the schema: submit() of an out-of-bound qty is refused before the store.
    await stillHealthy();
  });

  it('strings and UTF-8: invalid UTF-8 is INVALID_JSON (finding 8), control characters and lone surrogates are INVALID_SCHEMA naming the field', async () => {
    // Finding 8: a movement with invalid UTF-8 in its sku was applied under a mangled SKU.
    const bad = Buffer.from(valid(++seq, { sku: 'SKU-XY' }));
    const at = bad.indexOf('SKU-XY') + 4;
    bad[at] = 0xc3; // a lead byte followed by 'Y' (not a continuation byte)
    const [d8] = await feed(bad);
    expect(d8).toMatchObject({ reason: 'INVALID_JSON', sha256: sha(bad) });
    expect(d8!.message).toMatch(/UTF-8 \(byte \d+\)/);
    expect(await store.stock({ site: SITE })).toEqual([]);

    // Any invalid UTF-8 sequence anywhere in an otherwise valid batch.
    const invalidSeqs = fc.oneof(
      fc.constantFrom([0x80], [0xbf], [0xc0, 0x80], [0xc1, 0xbf], [0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xf5], [0xff], [0xfe]),
      fc.integer({ min: 0xc2, max: 0xf4 }).map((lead) => [lead]), // truncated sequence
    );
    await fc.assert(
      fc.asyncProperty(invalidSeqs, fc.constantFrom('sku', 'location', 'raw', 'uom', 'operator'), async (bytes, field) => {
        const text = valid(++seq, { [field]: 'AAAA', operator: 'AAAA' });
        const buf = Buffer.from(text);
        const i = buf.indexOf(`"${field}":"AAAA"`) + field.length + 4;
        const out = Buffer.concat([buf.subarray(0, i), Buffer.from(bytes), buf.subarray(i)]);
        const dl = await feed(out);
        expect(dl.map((x) => x.reason)).toEqual(['INVALID_JSON']);
      }),
      { numRuns: 60, seed: 11 },
    );
    // Escaped control characters (C0, DEL, C1) and lone surrogates in every text field.
    const controls = fc.oneof(fc.integer({ min: 0, max: 0x1f }), fc.constant(0x7f), fc.integer({ min: 0x80, max: 0x9f }));
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(controls.map((c) => `\\u${c.toString(16).padStart(4, '0')}`), fc.constantFrom('\\ud800', '\\udfff', '\\udbff\\u0041')),
        fc.constantFrom('sku', 'location', 'uom', 'batch', 'serial', 'project', 'operator', 'crew', 'stage'),
        async (esc, field) => {
          const text = valid(++seq, { [field]: 'AB' }).replace(`"${field}":"AB"`, `"${field}":"A${esc}B"`);
          expect(text).toContain(esc);
          const dl = await feed(text);
          expect(dl.map((x) => x.reason)).toEqual(['INVALID_SCHEMA']);
          expect(dl[0]!.message).toContain(field);
        },
      ),
      { numRuns: 80, seed: 12 },
    );
    // raw keeps the separators scanners send (GS1 FNC1 as GS, CR/LF), but not NUL.
    expect(await feed(valid(++seq, { raw: ']C101095060001343521710\u001d10LOT\r\n' }))).toEqual([]);
    expect((await feed(valid(++seq, { raw: 'A\u0000B' }))).map((x) => x.reason)).toEqual(['INVALID_SCHEMA']);
    // Valid non-ASCII text is fine.
    expect(await feed(valid(++seq, { sku: 'ZEMENT-Ä-水泥-🧱', location: 'Halle 3' }))).toEqual([]);
    await stillHealthy();
  });

  it('amplification: dead-lettering is rate-limited per edge and bounded per site; the edge is still told', async () => {
    make({ deadLetterRatePerSec: 5, deadLetterMaxPerSite: 30, deadLetterMaxBytesPerSite: 1e9 });
    // 500 refused messages at once: the burst (10 x rate) is stored, the rest counted.
    const junk = Array.from({ length: 500 }, (_, i) => `not json ${i} ${'z'.repeat(2000)}`);
    await feed(...junk);
    expect(ing.stats.deadLetters).toBe(50);
    expect(ing.stats.deadLettersSuppressed).toBe(450);
    // Each refusal still got its reject (the edge must stop resending), none lost.
    expect(bus.rejects()).toHaveLength(500);
    // Another edge has its own budget.
    ing.onMessage(topics.movements(SITE, 'edge-2'), Buffer.from('nope'));
    await ing.drain();
    expect(ing.stats.deadLetters).toBe(51);
    // Pruning (at most once a second) leaves 30 for the site, the newest.
    await new Promise((r) => setTimeout(r, 1200));
    await feed('[');
    await expect.poll(async () => (await store.deadLetters({ limit: 1000 })).filter((d) => d.site === SITE).length, { timeout: 5000 }).toBe(30);
    expect(ing.stats.deadLettersPruned).toBeGreaterThanOrEqual(21);
    for (const d of await store.deadLetters({ limit: 1000 })) expect(Buffer.byteLength(d.payload)).toBeLessThanOrEqual(DEAD_LETTER_PREFIX_BYTES);
    await stillHealthy();
  });

  it('failure boundary: a message whose handling throws costs that message only', async () => {
    // A payload that is not a Buffer makes the byte checks throw inside onMessage.
    expect(() => ing.onMessage(TOPIC, null as unknown as Buffer)).not.toThrow();
    expect(() => ing.onMessage(TOPIC, { length: 5 } as unknown as Buffer)).not.toThrow();
    expect(ing.stats.poisoned).toBe(2);
    // Settled as done (it must not hold a broker in-flight slot for ever).
    const settled: boolean[] = [];
    ing.onMessage(TOPIC, null as unknown as Buffer, (ok) => settled.push(ok));
    expect(settled).toEqual([true]);
    await stillHealthy();
  });

  it('compiled validator wired in: the store gets exactly zod\'s movements, refusals carry zod\'s message naming the field', async () => {
    // What reaches the store, captured before it (the oracle is zod's parse of the same JSON).
    const seen: Movement[] = [];
    const commit = store.commit.bind(store);
    store.commit = async (b) => {
      for (const x of b) seen.push(...x.movements);
      return commit(b);
    };
    const base = () => movement({ site: SITE, edge: EDGE, seq: ++seq });
    const sent = [
      // An older edge: no business documents, no optional fields.
      base(),
      // A newer edge within v1: an unknown key at both levels (stripped), every optional field set.
      { ...base(), kind: 'transfer', toLocation: 'BIN-7', gtin: '09506000134352', epc: '3074257BF7194E4000001A85', batch: 'LOT42', expiry: '2027-03-31', serial: 'SN-1', project: 'P-1', stage: 's', operator: 'o', crew: 'c', po: 'PO-1', req: 'R-1', order: 'SO-1', colour: 'red', device: { id: 'd', type: 'scanner', firmware: '1.2' } },
      { ...base(), qty: 12.345, uom: '水泥 🧱', raw: 'GS\u001dCR\r\n' },
    ];
    const bad = [
      { ...base(), qty: 1.0005 },
      { ...base(), sku: 'a\u0000b' },
      { ...base(), kind: 'count', qty: -1 },
    ];
    const list = [...sent, ...bad];
    await feed(JSON.stringify(batch(SITE, EDGE, list as Movement[])));
    const wire = JSON.parse(JSON.stringify(list)) as unknown[];
    expect(seen).toStrictEqual(wire.slice(0, sent.length).map((m) => Movement.parse(m)));
    expect(seen.map((m) => Object.keys(m))).toEqual(wire.slice(0, sent.length).map((m) => Object.keys(Movement.parse(m))));
    const rej = bus.rejects().at(-1)!;
    const first = Movement.safeParse(wire[sent.length]);
    expect(first.success).toBe(false);
    expect(rej.message).toBe(`movements[${sent.length}].${describeIssue(first.error!)}`);
    expect(rej.message).toMatch(/^movements\[3\]\.qty: /);
    expect(rej.ranges).toEqual([[list[sent.length]!.seq, list.at(-1)!.seq]]);
  });

  it('a rejected movement leaves no gap: later acks ask for no resend (the edge dropped it)', async () => {
    const acks = () => bus.published.filter((p) => p.topic.endsWith('/acks')).map((p) => JSON.parse(p.payload) as { missing?: Array<[number, number]> });
    const mvJson = (q: number) => JSON.stringify(movement({ site: SITE, edge: EDGE, seq: q, sku: 'GAPLESS' }));
    // seq 2 is malformed (3 decimals too many): dead-lettered and rejected, 1 and 3 applied.
    const bad = JSON.stringify({ ...movement({ site: SITE, edge: EDGE, seq: 2, sku: 'GAPLESS' }), qty: 1.0001 });
    await feed(`{"v":1,"site":"${SITE}","edge":"${EDGE}","sentAt":"2026-12-06T03:00:00.000Z","movements":[${mvJson(1)},${bad},${mvJson(3)}]}`);
    expect(bus.rejects().at(-1)!.ranges).toEqual([[2, 2]]);
    // A whole message refused (not JSON past its salvage: seq 4 read from a schema-invalid batch), then 5.
    await feed(`{"v":1,"site":"${SITE}","edge":"${EDGE}","sentAt":"not a time","movements":[${mvJson(4)}]}`);
    await feed(spliced(mvJson(5)));
    expect(acks().map((a) => a.missing ?? [])).toEqual([[], [], []]);
    expect(await store.edgeSeq(SITE, EDGE)).toMatchObject({ hwm: 5, maxSeq: 5 });
  });

  it("a group's acks are published before the next group commit starts (a backlog does not hold them behind it)", async () => {
    make({ maxGroup: 1 }); // one movement per group: two messages, two commits
    const order: string[] = [];
    const commit = store.commit.bind(store);
    store.commit = async (b) => {
      order.push(`commit ${b.flatMap((x) => x.movements.map((m) => m.seq)).join(',')}`);
      return commit(b);
    };
    const publish = bus.publish.bind(bus);
    bus.publish = async (topic, payload) => {
      if (topic.endsWith('/acks')) order.push(`ack ${JSON.stringify((JSON.parse(String(payload)) as { ranges: unknown }).ranges)}`);
      return publish(topic, payload);
    };
    const a = ++seq;
    const b = ++seq;
    ing.onMessage(TOPIC, Buffer.from(valid(a)));
    ing.onMessage(TOPIC, Buffer.from(valid(b)));
    await ing.drain();
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([`commit ${a}`, `ack [[${a},${a}]]`, `commit ${b}`, `ack [[${b},${b}]]`]);
  });

  it("one ack per edge and group commit: its messages' seqs in one list of ranges, duplicates summed, the gap as it stands after its last message", async () => {
    const A = 'edge-ack-a';
    const B = 'edge-ack-b';
    const msg = (edge: string, seqs: number[]) => JSON.stringify(batch(SITE, edge, seqs.map((q) => movement({ site: SITE, edge, seq: q }))));
    const first = msg(A, [1, 2]);
    const settled: boolean[] = [];
    // One group commit: A 1-2, B 1, A 5-6 (3-4 missing then), A 1-2 again (a resend: duplicates),
    // A 3 (4 still missing after it).
    for (const [edge, payload] of [[A, first], [B, msg(B, [1])], [A, msg(A, [5, 6])], [A, first], [A, msg(A, [3])]] as const) {
      ing.onMessage(topics.movements(SITE, edge), Buffer.from(payload), (ok) => settled.push(ok));
    }
    await ing.drain();
    expect(ing.stats.commits).toBe(1);
    const acks = bus.published.filter((p) => p.topic.endsWith('/acks')).map((p) => ({ topic: p.topic, ack: JSON.parse(p.payload) as { ranges: Array<[number, number]>; duplicates: number; missing?: Array<[number, number]> } }));
    expect(acks.map((a) => a.topic).sort()).toEqual([topics.acks(SITE, A), topics.acks(SITE, B)].sort());
    const a = acks.find((x) => x.topic === topics.acks(SITE, A))!.ack;
    expect(a.ranges).toEqual([[1, 3], [5, 6]]);
    expect(a.duplicates).toBe(2);
    expect(a.missing).toEqual([[4, 4]]);
    const b = acks.find((x) => x.topic === topics.acks(SITE, B))!.ack;
    expect(b).toMatchObject({ ranges: [[1, 1]], duplicates: 0 });
    expect(b.missing).toBeUndefined();
    // Every message is still settled with the broker, one by one.
    expect(settled).toEqual([true, true, true, true, true]);
    // What the ack says is what the store tracked: 1-3 contiguous, 6 the highest seen.
    expect(await store.edgeSeq(SITE, A)).toMatchObject({ hwm: 3, maxSeq: 6 });
  });

  it('settles each message only after its group commit (the external broker PUBACKs then)', async () => {
    const order: string[] = [];
    const commit = store.commit.bind(store);
    store.commit = async (b) => {
      order.push('commit-start');
      const r = await commit(b);
      order.push('commit-end');
      return r;
    };
    ing.onMessage(TOPIC, Buffer.from(valid(++seq)), (ok) => order.push(`settle-${ok}`));
    ing.onMessage(TOPIC, Buffer.from('not json'), (ok) => order.push(`settle-${ok}`));
    await ing.drain();
    expect(order).toEqual(['commit-start', 'commit-end', 'settle-true', 'settle-true']);
    // A failed commit settles false (redelivery), and nothing is acked to the edge.
    store.commit = async () => {
      throw new Error('disk gone');
    };
    const acksBefore = bus.published.length;
    ing.onMessage(TOPIC, Buffer.from(valid(++seq)), (ok) => order.push(`settle-${ok}`));
    await ing.drain();
    expect(order.at(-1)).toBe('settle-false');
    expect(bus.published.length).toBe(acksBefore);
  });
});
