import { describe, expect, it } from 'vitest';
import {
  DeviceName,
  EdgeSettings,
  EdgeStatus,
  EdgeStatusDetails,
  ItemRecord,
  RemoteConfig,
  RfidReaderSettings,
  WeighStation,
  describeIssue,
} from '../../../protocols/mqtt/index.js';

const issue = (r: { success: boolean; error?: unknown }) => (r.success ? 'ok' : describeIssue(r.error as Parameters<typeof describeIssue>[0]));

describe('RemoteConfig (retained on .../config)', () => {
  const full = {
    v: 1,
    version: 7,
    mode: 'issue',
    location: 'YARD-2',
    uom: 'ea',
    issueRequires: ['project', 'crew'],
    unknownItems: 'reject',
    stations: [{ name: 'weigh-1', scanner: 'dock1', scale: 'scale1', divisionKg: 0.01, zeroBandKg: 0.02, stableMs: 800, capacityKg: 150 }],
    rfid: [
      { reader: 'portal1', role: 'portal', outsideAntenna: 1, insideAntenna: 2, readWindowMs: 2000, departureMs: 10_000, location: 'GATE' },
      { reader: 'shelf1', role: 'zone', arrive: 'receive', depart: 'issue', scanner: 'dock1' },
    ],
    items: [
      { sku: 'CEM-50', gtin: '09506000134352', uom: 'bag', unitWeightKg: 50, description: 'Cement 50 kg' },
      { sku: 'PUMP-1', serialised: true },
    ],
    telemetryMs: 5000,
    drainRatePerSec: 2000,
    backlogAlert: 5000,
    outboxMaxBytes: 64 * 1024 * 1024,
  };

  it('accepts a config with every settable field', () => {
    expect(RemoteConfig.parse(full)).toEqual(full);
    expect(RemoteConfig.parse({ v: 1, version: 1 })).toEqual({ v: 1, version: 1 });
  });

  it.each([
    [{ ...full, version: 0 }, /^version: /],
    [{ ...full, version: 1.5 }, /^version: /],
    [{ ...full, v: 2 }, /^v: /],
    [{ ...full, mode: 'transfer' }, /^mode: /],
    [{ ...full, surprise: true }, /surprise/],
    [{ ...full, drainRatePerSec: -1 }, /^drainRatePerSec: /],
    [{ ...full, outboxMaxBytes: 1000 }, /^outboxMaxBytes: /],
    [{ ...full, items: [{ sku: 'A', gtin: '09506000134353' }] }, /gtin: wrong check digit/],
    [{ ...full, items: [{ sku: 'A', gtin: '9506000134352' }] }, /gtin: 14 digits/],
    [{ ...full, items: [{ sku: 'A' }, { sku: 'A' }] }, /items: duplicate 'A'/],
    [{ ...full, items: [{ sku: 'A', gtin: '09506000134352' }, { sku: 'B', gtin: '09506000134352' }] }, /items: duplicate '09506000134352'/],
    [{ ...full, rfid: [{ reader: 'r' }, { reader: 'r' }] }, /rfid: duplicate 'r'/],
    [{ ...full, stations: [{ scanner: 'a', scale: 's' }, { scanner: 'b', scale: 's' }] }, /stations: duplicate 's'/],
    [{ ...full, stations: [{ scanner: 'a', scale: 's' }, { scanner: 'a', scale: 't' }] }, /stations: duplicate 'a'/],
    [{ ...full, stations: [{ scanner: 'a/b', scale: 's' }] }, /device: 1-64/],
  ])('refuses %#', (value, message) => {
    expect(issue(RemoteConfig.safeParse(value))).toMatch(message);
  });
});

describe('settings parts', () => {
  it('RfidReaderSettings: a portal needs two different antennas; departure not shorter than the window', () => {
    expect(issue(RfidReaderSettings.safeParse({ reader: 'p', role: 'portal', outsideAntenna: 1 }))).toMatch(/a portal needs outsideAntenna and insideAntenna/);
    expect(issue(RfidReaderSettings.safeParse({ reader: 'p', role: 'portal', outsideAntenna: 1, insideAntenna: 1 }))).toMatch(/insideAntenna: equals outsideAntenna/);
    expect(issue(RfidReaderSettings.safeParse({ reader: 'p', readWindowMs: 2000, departureMs: 1000 }))).toMatch(/departureMs: shorter than readWindowMs/);
    expect(issue(RfidReaderSettings.safeParse({ reader: 'p', arrive: 'transfer' }))).toMatch(/^arrive: /);
    expect(RfidReaderSettings.parse({ reader: 'z' })).toEqual({ reader: 'z' });
  });

  it('WeighStation, ItemRecord, DeviceName, EdgeSettings', () => {
    expect(WeighStation.parse({ scanner: 'a', scale: 'b' })).toEqual({ scanner: 'a', scale: 'b' });
    expect(issue(WeighStation.safeParse({ scanner: 'a', scale: 'b', stableMs: -1 }))).toMatch(/^stableMs: /);
    expect(issue(ItemRecord.safeParse({ sku: 'A', unitWeightKg: 0 }))).toMatch(/^unitWeightKg: /);
    expect(DeviceName.safeParse('dock-1').success).toBe(true);
    expect(DeviceName.safeParse('').success).toBe(false);
    expect(issue(EdgeSettings.safeParse({ issueRequires: ['boss'] }))).toMatch(/^issueRequires.0: /);
  });
});

describe('EdgeStatusDetails', () => {
  it('is an EdgeStatus with the agent details; any plain v1 status still parses', () => {
    const base = { v: 1, site: 's', edge: 'e', state: 'online', reason: 'update', ts: '2026-11-22T02:19:00.000Z', backlog: 3 };
    expect(EdgeStatusDetails.parse(base)).toEqual(base);
    const details = {
      ...base,
      configVersion: 4,
      configError: 'version 5 failed to apply: x; running version 4',
      configShadowed: ['mode'],
      problems: ['outbox-full', 'config-error'],
      outbox: { count: 3, bytes: 900, maxBytes: 1000, oldestAgeMs: 12, refused: 2 },
      lastError: { at: '2026-11-22T02:19:00.000Z', code: 'SG_ERR_OUTBOX_FULL', message: 'full', device: 'dock1' },
      lastWarning: { at: '2026-11-22T02:19:00.000Z', code: 'SG_WARN_COUNT_DOUBTFUL_COUNT', message: 'doubt' },
    };
    expect(EdgeStatusDetails.parse(details)).toEqual(details);
    // The plain EdgeStatus strips the details (an older cloud keeps working).
    expect(EdgeStatus.parse(details)).toEqual(base);
    expect(issue(EdgeStatusDetails.safeParse({ ...details, outbox: { ...details.outbox, count: -1 } }))).toMatch(/^outbox.count: /);
  });
});
