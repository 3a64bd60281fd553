import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  Ack,
  DeviceHealth,
  EdgeId,
  EdgeStatus,
  MAX_BATCH,
  Movement,
  MovementBatch,
  Reject,
  SCHEMA_VERSION,
  SeqRanges,
  SiteId,
  Telemetry,
  describeIssue,
} from '../../../protocols/mqtt/index.js';

const TS = '2026-11-22T02:19:00.000Z';

/** A movement with every optional field set (a transfer, so `toLocation` is allowed). */
function fullMovement(): Record<string, unknown> {
  return {
    v: 1,
    id: '01JDQ7ZK3M8Y2V5XKJ4N6P9R0T',
    edge: 'edge-1',
    seq: 42,
    ts: TS,
    site: 'site-A',
    location: 'DOCK-1',
    toLocation: 'BIN-7',
    kind: 'transfer',
    sku: 'BOLT-M8',
    gtin: '09506000134352',
    epc: '3074257BF7194E4000001A85',
    batch: 'LOT42',
    expiry: '2027-03-31',
    serial: 'SN-0001',
    qty: 12.5,
    uom: 'kg',
    project: 'PRJ-7',
    stage: 'foundation',
    operator: 'badge-17',
    crew: 'crew-b',
    device: { id: 'dock1', type: 'scanner' },
    raw: 'BOLT-M8\r\n',
  };
}

/** A minimal receive. */
function movement(over: Record<string, unknown> = {}): Record<string, unknown> {
  const m: Record<string, unknown> = {
    v: 1,
    id: '01JDQ7ZK3M8Y2V5XKJ4N6P9R0T',
    edge: 'edge-1',
    seq: 1,
    ts: TS,
    site: 'site-A',
    location: 'DOCK-1',
    kind: 'receive',
    sku: 'BOLT-M8',
    qty: 1,
    uom: 'ea',
    device: { id: 'dock1', type: 'scanner' },
    raw: 'BOLT-M8',
  };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) delete m[k];
    else m[k] = v;
  }
  return m;
}

/** The issue message of a failed parse (fails the test when the parse succeeds). */
function failure(schema: z.ZodType, input: unknown): string {
  const r = schema.safeParse(input);
  expect(r.success, `expected ${JSON.stringify(input)?.slice(0, 200)} to be rejected`).toBe(false);
  return describeIssue(r.error!);
}

describe('Movement', () => {
  it('accepts a full valid movement and returns it unchanged', () => {
    const m = fullMovement();
    expect(Movement.parse(m)).toEqual(m);
    expect(SCHEMA_VERSION).toBe(1);
  });

  it('accepts a minimal movement', () => {
    expect(Movement.safeParse(movement()).success).toBe(true);
  });

  it('strips unknown keys (a newer edge may add optional fields)', () => {
    const parsed = Movement.parse(movement({ colour: 'red', extra: { a: 1 } }));
    expect(parsed).not.toHaveProperty('colour');
    expect(parsed).not.toHaveProperty('extra');
    expect(parsed).toEqual(movement());
  });

  it('strips unknown keys of the device too', () => {
    const parsed = Movement.parse(movement({ device: { id: 'd', type: 'scanner', firmware: '1.2' } }));
    expect(parsed.device).toEqual({ id: 'd', type: 'scanner' });
  });

  it.each([0, 2, '1', undefined])('rejects v = %s', (v) => {
    expect(failure(Movement, movement({ v }))).toMatch(/^v: /);
  });

  describe('qty sign rule per kind', () => {
    it.each([
      ['receive', 1, true],
      ['receive', 0.001, true],
      ['receive', 0, false],
      ['receive', -1, false],
      ['issue', 3, true],
      ['issue', 0, false],
      ['issue', -3, false],
      ['return', 2, true],
      ['return', 0, false],
      ['return', -2, false],
      ['count', 0, true],
      ['count', 7, true],
      ['count', -1, false],
      ['adjust', -4, true],
      ['adjust', 4, true],
      ['adjust', 0, false],
    ] as const)('%s with qty %s -> valid: %s', (kind, qty, ok) => {
      const r = Movement.safeParse(movement({ kind, qty }));
      expect(r.success).toBe(ok);
      if (!r.success) {
        const rule = kind === 'count' ? '>= 0' : kind === 'adjust' ? 'non-zero' : '> 0';
        expect(describeIssue(r.error)).toBe(`qty: must be ${rule} for kind ${kind}`);
      }
    });

    it('transfer: positive qty only', () => {
      expect(Movement.safeParse(movement({ kind: 'transfer', toLocation: 'B', qty: 5 })).success).toBe(true);
      expect(failure(Movement, movement({ kind: 'transfer', toLocation: 'B', qty: 0 }))).toBe('qty: must be > 0 for kind transfer');
      expect(failure(Movement, movement({ kind: 'transfer', toLocation: 'B', qty: -5 }))).toBe('qty: must be > 0 for kind transfer');
    });

    it.each([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, '5'])('rejects non-finite or non-number qty %s', (qty) => {
      expect(failure(Movement, movement({ kind: 'adjust', qty }))).toMatch(/^qty: /);
    });
  });

  describe('transfer locations', () => {
    it('requires toLocation', () => {
      expect(failure(Movement, movement({ kind: 'transfer' }))).toBe('toLocation: required for a transfer');
    });
    it('rejects toLocation equal to location', () => {
      expect(failure(Movement, movement({ kind: 'transfer', toLocation: 'DOCK-1' }))).toBe('toLocation: equals location');
    });
    it('rejects toLocation on any other kind', () => {
      expect(failure(Movement, movement({ kind: 'receive', toLocation: 'BIN-7' }))).toBe('toLocation: only a transfer has one');
    });
    it('rejects an empty toLocation', () => {
      expect(failure(Movement, movement({ kind: 'transfer', toLocation: '' }))).toMatch(/^toLocation: /);
    });
  });

  describe('item identity', () => {
    it('requires one of sku, gtin or epc', () => {
      expect(failure(Movement, movement({ sku: undefined }))).toBe('sku: one of sku, gtin or epc is required');
    });
    it.each([
      ['sku', { sku: 'X' }],
      ['gtin', { sku: undefined, gtin: '09506000134352' }],
      ['epc', { sku: undefined, epc: '3074257BF7194E4000001A85' }],
    ])('accepts %s alone', (_k, over) => {
      expect(Movement.safeParse(movement(over)).success).toBe(true);
    });
    it.each(['9506000134352', '095060001343521', '0950600013435A', ' 9506000134352'])('rejects gtin %j (not 14 digits)', (gtin) => {
      expect(failure(Movement, movement({ gtin }))).toBe('gtin: 14 digits');
    });
    it.each(['3074257bf7194e4000001a85', '3074257BF7194E4000001A8G', '1234567', '', 'A'.repeat(129)])('rejects epc %j', (epc) => {
      expect(failure(Movement, movement({ epc }))).toBe('epc: upper-case hex');
    });
    it('accepts epc of 8 and 128 hex digits', () => {
      expect(Movement.safeParse(movement({ epc: 'ABCDEF01' })).success).toBe(true);
      expect(Movement.safeParse(movement({ epc: 'F'.repeat(128) })).success).toBe(true);
    });
  });

  describe('dates and times', () => {
    it.each(['2027-03-31', '2028-02-29'])('accepts expiry %s', (expiry) => {
      expect(Movement.safeParse(movement({ expiry })).success).toBe(true);
    });
    it.each(['2027-02-30', '2027-13-01', '27-03-31', '2027-03-31T00:00:00Z', '20270331', '2027-02-29'])('rejects expiry %s', (expiry) => {
      expect(failure(Movement, movement({ expiry }))).toMatch(/^expiry: /);
    });
    it.each(['2026-11-22T02:19:00Z', '2026-11-22T02:19:00.123456Z', '2026-11-22T03:19:00+01:00'])('accepts ts %s', (ts) => {
      expect(Movement.safeParse(movement({ ts })).success).toBe(true);
    });
    it.each(['2026-11-22T02:19:00', '2026-11-22', '2026-11-22 02:19:00Z', 'yesterday', 1763777940000])('rejects ts %s', (ts) => {
      expect(failure(Movement, movement({ ts }))).toMatch(/^ts: /);
    });
  });

  describe('other fields', () => {
    it.each([
      ['id too short', { id: 'ABC' }, /^id: /],
      ['id with a space', { id: '01JDQ7ZK3M 8Y2V5XKJ4N6P9R0' }, /^id: /],
      ['seq 0', { seq: 0 }, /^seq: /],
      ['seq fractional', { seq: 1.5 }, /^seq: /],
      ['seq beyond MAX_SAFE_INTEGER', { seq: 2 ** 53 }, /^seq: /],
      ['site with a slash', { site: 'a/b' }, /^site: /],
      ['site with a wildcard', { site: '+' }, /^site: /],
      ['reserved edge', { edge: 'alerts' }, /^edge: this id is reserved$/],
      ['edge with #', { edge: 'e#1' }, /^edge: /],
      ['unknown kind', { kind: 'steal' }, /^kind: /],
      ['empty location', { location: '' }, /^location: /],
      ['batch over 20 chars', { batch: 'B'.repeat(21) }, /^batch: /],
      ['uom over 16 chars', { uom: 'u'.repeat(17) }, /^uom: /],
      ['missing device', { device: undefined }, /^device: /],
      ['device without type', { device: { id: 'd' } }, /^device\.type: /],
      ['raw over 4096 chars', { raw: 'r'.repeat(4097) }, /^raw: /],
    ])('rejects %s', (_label, over, re) => {
      expect(failure(Movement, movement(over))).toMatch(re);
    });
  });
});

describe('describeIssue', () => {
  it('prefixes zod messages with the dotted path', () => {
    const msg = failure(Movement, movement({ device: { id: '', type: 'scanner' } }));
    expect(msg.startsWith('device.id: ')).toBe(true);
  });
  it('does not repeat a field name the message already starts with', () => {
    expect(failure(Movement, movement({ gtin: '1' }))).toBe('gtin: 14 digits');
  });
  it('names the field for a built-in check', () => {
    expect(failure(Movement, movement({ uom: 7 }))).toMatch(/^uom: .+/);
  });
  it('names the array index inside a batch', () => {
    expect(failure(Ack, { v: 1, edge: 'e1', ranges: [[1, 2], [0, 3]], duplicates: 0, at: TS })).toMatch(/^ranges\.1\.0: /);
  });
  it('returns the bare message for a root issue', () => {
    const msg = failure(Movement, null);
    expect(msg).not.toMatch(/^: /);
    expect(msg.length).toBeGreaterThan(0);
  });
  it('returns "invalid" for an error with no issues', () => {
    expect(describeIssue(new z.ZodError([]))).toBe('invalid');
  });
});

describe('SiteId / EdgeId', () => {
  it('accept ids and reject reserved or unsafe ones', () => {
    expect(SiteId.safeParse('site.A-1_b').success).toBe(true);
    expect(SiteId.safeParse('$SYS').success).toBe(false);
    expect(EdgeId.safeParse('edge-1').success).toBe(true);
    expect(EdgeId.safeParse('alerts').success).toBe(false);
    // only the edge level is reserved: a site may be called alerts
    expect(SiteId.safeParse('alerts').success).toBe(true);
  });
});

describe('MovementBatch', () => {
  const batch = (n: number) => ({ v: 1, site: 'site-A', edge: 'edge-1', sentAt: TS, movements: Array.from({ length: n }, () => ({})) });

  it(`accepts 1 and ${MAX_BATCH} movements`, () => {
    expect(MAX_BATCH).toBe(1000);
    expect(MovementBatch.safeParse(batch(1)).success).toBe(true);
    expect(MovementBatch.safeParse(batch(1000)).success).toBe(true);
  });
  it('rejects an empty batch and one over 1000', () => {
    expect(failure(MovementBatch, batch(0))).toMatch(/^movements: /);
    expect(failure(MovementBatch, batch(1001))).toMatch(/^movements: /);
  });
  it('leaves movements unvalidated (each is checked on its own) and checks the envelope', () => {
    expect(MovementBatch.parse(batch(1)).movements).toEqual([{}]);
    expect(failure(MovementBatch, { ...batch(1), v: 2 })).toMatch(/^v: /);
    expect(failure(MovementBatch, { ...batch(1), edge: 'alerts' })).toBe('edge: this id is reserved');
    expect(failure(MovementBatch, { ...batch(1), sentAt: 'now' })).toMatch(/^sentAt: /);
    expect(failure(MovementBatch, { ...batch(1), movements: {} })).toMatch(/^movements: /);
  });
});

describe('SeqRanges / Ack', () => {
  const ack = { v: 1, edge: 'edge-1', ranges: [[1, 10], [12, 12]], duplicates: 2, at: TS };

  it('accepts a valid ack', () => {
    expect(Ack.parse(ack)).toEqual(ack);
    expect(Ack.safeParse({ ...ack, ranges: [] }).success).toBe(true);
  });
  it.each([
    ['v 2', { v: 2 }, /^v: /],
    ['negative duplicates', { duplicates: -1 }, /^duplicates: /],
    ['fractional duplicates', { duplicates: 0.5 }, /^duplicates: /],
    ['seq 0 in a range', { ranges: [[0, 1]] }, /^ranges\.0\.0: /],
    ['range of three', { ranges: [[1, 2, 3]] }, /^ranges\.0: /],
    ['range of one', { ranges: [[1]] }, /^ranges\.0: /],
    ['missing at', { at: undefined }, /^at: /],
    ['reserved edge', { edge: 'alerts' }, /^edge: /],
  ])('rejects an ack with %s', (_label, over, re) => {
    expect(failure(Ack, { ...ack, ...over })).toMatch(re);
  });
  it('bounds the number of ranges at 10000', () => {
    const many = Array.from({ length: 10_000 }, (_, i) => [2 * i + 1, 2 * i + 1]);
    expect(SeqRanges.safeParse(many).success).toBe(true);
    expect(SeqRanges.safeParse([...many, [30_001, 30_001]]).success).toBe(false);
  });
});

describe('Reject', () => {
  const rej = {
    v: 1,
    edge: 'edge-1',
    reason: 'INVALID_SCHEMA',
    message: 'movements.0.qty: must be > 0 for kind receive',
    ranges: [[5, 5]],
    ids: ['01JDQ7ZK3M8Y2V5XKJ4N6P9R0T'],
    deadLetterId: 17,
    at: TS,
  };
  it('accepts a full reject and one with only the required fields', () => {
    expect(Reject.parse(rej)).toEqual(rej);
    const { ranges: _r, ids: _i, deadLetterId: _d, ...minimal } = rej;
    expect(Reject.safeParse({ ...minimal, reason: 'INVALID_JSON' }).success).toBe(true);
  });
  it.each(['INVALID_JSON', 'INVALID_SCHEMA', 'UNSUPPORTED_VERSION', 'TOPIC_MISMATCH', 'TOO_LARGE'])('knows reason %s', (reason) => {
    expect(Reject.safeParse({ ...rej, reason }).success).toBe(true);
  });
  it.each([
    ['unknown reason', { reason: 'NOPE' }, /^reason: /],
    ['missing message', { message: undefined }, /^message: /],
    ['fractional deadLetterId', { deadLetterId: 1.5 }, /^deadLetterId: /],
    ['over 1000 ids', { ids: Array.from({ length: 1001 }, (_, i) => `id${i}`) }, /^ids: /],
  ])('rejects %s', (_label, over, re) => {
    expect(failure(Reject, { ...rej, ...over })).toMatch(re);
  });
});

describe('EdgeStatus / DeviceHealth', () => {
  const device = { id: 'dock1', type: 'scanner', state: 'connected', lastFrameAt: TS, reconnects: 2, droppedFrames: 0, error: 'none' };
  const status = { v: 1, site: 'site-A', edge: 'edge-1', state: 'online', reason: 'connect', ts: TS, backlog: 3, version: '0.1.0', devices: [device] };

  it('accepts a full status and the LWT shape', () => {
    expect(EdgeStatus.parse(status)).toEqual(status);
    expect(EdgeStatus.safeParse({ v: 1, site: 'site-A', edge: 'edge-1', state: 'offline', reason: 'lwt', ts: TS }).success).toBe(true);
  });
  it.each([
    ['unknown state', { state: 'sleeping' }, /^state: /],
    ['unknown reason', { reason: 'crash' }, /^reason: /],
    ['negative backlog', { backlog: -1 }, /^backlog: /],
    ['bad device state', { devices: [{ ...device, state: 'on' }] }, /^devices\.0\.state: /],
    ['negative reconnects', { devices: [{ ...device, reconnects: -1 }] }, /^devices\.0\.reconnects: /],
    ['local-time ts', { ts: '2026-11-22T02:19:00' }, /^ts: /],
  ])('rejects %s', (_label, over, re) => {
    expect(failure(EdgeStatus, { ...status, ...over })).toMatch(re);
  });
  it('DeviceHealth needs id, type and state', () => {
    expect(DeviceHealth.safeParse({ id: 'a', type: 'b', state: 'error' }).success).toBe(true);
    expect(failure(DeviceHealth, { id: 'a', state: 'error' })).toMatch(/^type: /);
  });
});

describe('Telemetry', () => {
  const t = { v: 1, site: 'site-A', edge: 'edge-1', ts: TS, metrics: { 'outbox.backlog': 3, 'scale.dock1.weightKg': 12.5 } };
  it('accepts valid telemetry', () => {
    expect(Telemetry.parse(t)).toEqual(t);
    expect(Telemetry.safeParse({ ...t, metrics: {}, devices: [] }).success).toBe(true);
  });
  it.each([
    ['a string metric', { metrics: { a: '1' } }, /^metrics\.a: /],
    ['a metric name over 128 chars', { metrics: { ['m'.repeat(129)]: 1 } }, /^metrics/],
    ['no metrics', { metrics: undefined }, /^metrics: /],
    ['v 0', { v: 0 }, /^v: /],
  ])('rejects %s', (_label, over, re) => {
    expect(failure(Telemetry, { ...t, ...over })).toMatch(re);
  });
});
