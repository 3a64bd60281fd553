import { describe, expect, it } from 'vitest';
import { ID_PATTERN, RESERVED_EDGE_IDS, TOPIC_ROOT, filters, parseEdgeTopic, topics } from '../../../protocols/mqtt/index.js';

describe('topic builders', () => {
  it('put every edge channel under stockgate/v1/{site}/{edge}/', () => {
    expect(TOPIC_ROOT).toBe('stockgate/v1');
    expect(topics.movements('s1', 'e1')).toBe('stockgate/v1/s1/e1/movements');
    expect(topics.acks('s1', 'e1')).toBe('stockgate/v1/s1/e1/acks');
    expect(topics.rejects('s1', 'e1')).toBe('stockgate/v1/s1/e1/rejects');
    expect(topics.status('s1', 'e1')).toBe('stockgate/v1/s1/e1/status');
    expect(topics.telemetry('s1', 'e1')).toBe('stockgate/v1/s1/e1/telemetry');
    expect(topics.config('s1', 'e1')).toBe('stockgate/v1/s1/e1/config');
  });

  it('put alerts beside the edges, under the reserved `alerts` level', () => {
    expect(topics.alerts('s1', 'low-stock')).toBe('stockgate/v1/s1/alerts/low-stock');
    expect(RESERVED_EDGE_IDS.has('alerts')).toBe(true);
  });

  it('give the ingester one wildcard filter per channel and a shared-subscription form', () => {
    expect(filters.movements).toBe('stockgate/v1/+/+/movements');
    expect(filters.status).toBe('stockgate/v1/+/+/status');
    expect(filters.telemetry).toBe('stockgate/v1/+/+/telemetry');
    expect(filters.sharedMovements('ingest')).toBe('$share/ingest/stockgate/v1/+/+/movements');
  });

  it('round-trip through parseEdgeTopic for every edge channel', () => {
    for (const channel of ['movements', 'acks', 'rejects', 'status', 'telemetry', 'config'] as const) {
      expect(parseEdgeTopic(topics[channel]('site-A.1', 'edge_07'))).toEqual({ site: 'site-A.1', edge: 'edge_07', channel });
    }
  });
});

describe('ID_PATTERN', () => {
  it('accepts 1..64 of [A-Za-z0-9._-] starting alphanumeric', () => {
    expect(ID_PATTERN.test('a')).toBe(true);
    expect(ID_PATTERN.test('A'.repeat(64))).toBe(true);
    expect(ID_PATTERN.test('A'.repeat(65))).toBe(false);
    expect(ID_PATTERN.test('')).toBe(false);
    expect(ID_PATTERN.test('-lead')).toBe(false);
    expect(ID_PATTERN.test('.lead')).toBe(false);
    expect(ID_PATTERN.test('has space')).toBe(false);
  });
});

describe('parseEdgeTopic', () => {
  it('parses a valid edge topic', () => {
    expect(parseEdgeTopic('stockgate/v1/dock-3/edge1/movements')).toEqual({ site: 'dock-3', edge: 'edge1', channel: 'movements' });
  });

  it.each([
    ['wrong root', 'stockgate/v2/s1/e1/movements'],
    ['wrong root name', 'other/v1/s1/e1/movements'],
    ['too few levels', 'stockgate/v1/s1/movements'],
    ['too many levels', 'stockgate/v1/s1/e1/movements/extra'],
    ['trailing slash', 'stockgate/v1/s1/e1/movements/'],
    ['leading slash', '/stockgate/v1/s1/e1/movements'],
    ['empty string', ''],
    ['reserved edge id', 'stockgate/v1/s1/alerts/movements'],
    ['alert topic', 'stockgate/v1/s1/alerts/low-stock'],
    ['+ wildcard as site', 'stockgate/v1/+/e1/movements'],
    ['+ wildcard as edge', 'stockgate/v1/s1/+/movements'],
    ['# wildcard', 'stockgate/v1/s1/#/movements'],
    ['wildcard inside a level', 'stockgate/v1/s+1/e1/movements'],
    ['$ prefix', 'stockgate/v1/$SYS/e1/movements'],
    ['empty site level', 'stockgate/v1//e1/movements'],
    ['site over 64 chars', `stockgate/v1/${'s'.repeat(65)}/e1/movements`],
    ['unknown channel', 'stockgate/v1/s1/e1/orders'],
    ['channel in wrong case', 'stockgate/v1/s1/e1/Movements'],
    ['prototype key as channel', 'stockgate/v1/s1/e1/constructor'],
  ])('returns undefined for %s', (_label, topic) => {
    expect(parseEdgeTopic(topic)).toBeUndefined();
  });
});
