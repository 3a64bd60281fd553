import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { alertsUsername, authorizePublish, authorizeSubscribe, edgeUsername, type MqttPrincipal } from '../../../cloud/auth/acl.js';
import { filterToRegExp } from '../../../cloud/broker/topic-filter.js';
import { parseEdgeTopic, topics } from '../../../protocols/mqtt/index.js';

const edge: MqttPrincipal = { role: 'edge', username: 's1/e1', site: 's1', edge: 'e1' };
const alerts: MqttPrincipal = { role: 'alerts', username: 'alerts.s1.x', site: 's1' };
const CHANNELS = ['movements', 'acks', 'rejects', 'status', 'telemetry', 'config'] as const;
const pub = (p: MqttPrincipal, t: string, retain = false) => authorizePublish(p, t, retain).ok;
const sub = (p: MqttPrincipal, f: string) => authorizeSubscribe(p, f).ok;

describe('MQTT ACL: edge publish', () => {
  // Every site x edge x channel x retain combination of the edge topic tree.
  const cases = ['s1', 's2'].flatMap((site) =>
    ['e1', 'e2'].flatMap((e) => CHANNELS.flatMap((channel) => [false, true].map((retain) => ({ site, e, channel, retain })))),
  );
  it.each(cases)('$site/$e/$channel retain=$retain', ({ site, e, channel, retain }) => {
    const own = site === 's1' && e === 'e1';
    const publishes = channel === 'movements' || channel === 'status' || channel === 'telemetry';
    const expected = own && publishes && (!retain || channel === 'status');
    expect(pub(edge, `stockgate/v1/${site}/${e}/${channel}`, retain)).toBe(expected);
  });

  it.each([
    'stockgate/v1/s1/alerts/low-stock',
    'stockgate/v1/s1/e1',
    'stockgate/v1/s1/e1/movements/x',
    'stockgate/v1/s1/e1/unknown',
    'stockgate/v2/s1/e1/movements',
    'other/v1/s1/e1/movements',
    '$SYS/broker/x',
    'stockgate/v1/S1/e1/movements',
    '',
  ])('denies %j', (t) => {
    expect(pub(edge, t)).toBe(false);
    expect(authorizePublish(edge, t, false)).toMatchObject({ ok: false, reason: expect.any(String) });
  });
});

describe('MQTT ACL: edge subscribe', () => {
  it.each([topics.acks('s1', 'e1'), topics.rejects('s1', 'e1'), topics.config('s1', 'e1')])('allows its own %s', (f) => expect(sub(edge, f)).toBe(true));

  it.each([
    topics.movements('s1', 'e1'),
    topics.status('s1', 'e1'),
    topics.telemetry('s1', 'e1'),
    topics.acks('s1', 'e2'),
    topics.rejects('s1', 'e2'),
    topics.config('s2', 'e1'),
    topics.acks('s2', 'e1'),
    'stockgate/v1/s1/e1/+',
    'stockgate/v1/s1/e1/#',
    'stockgate/v1/s1/+/acks',
    'stockgate/v1/+/e1/acks',
    'stockgate/v1/s1/alerts/#',
    'stockgate/#',
    '#',
    '+/+/+/+/+',
    '$share/g/stockgate/v1/s1/e1/acks',
    '$SYS/#',
  ])('denies %s', (f) => expect(sub(edge, f)).toBe(false));
});

describe('MQTT ACL: alerts (read-only, one site)', () => {
  it.each(['stockgate/v1/s1/alerts/low-stock', 'stockgate/v1/s1/e1/movements', 'stockgate/v1/s1/e1/status', 'stockgate/v1/s2/alerts/x', '$SYS/x'])(
    'publishes nothing: %s',
    (t) => {
      expect(pub(alerts, t)).toBe(false);
      expect(pub(alerts, t, true)).toBe(false);
    },
  );

  it.each(['stockgate/v1/s1/alerts/#', 'stockgate/v1/s1/alerts/+', 'stockgate/v1/s1/alerts/low-stock', 'stockgate/v1/s1/alerts', 'stockgate/v1/s1/alerts/+/#'])(
    'allows %s',
    (f) => expect(sub(alerts, f)).toBe(true),
  );

  it.each([
    'stockgate/v1/s2/alerts/#',
    'stockgate/v1/+/alerts/#',
    'stockgate/v1/s1/#',
    'stockgate/v1/s1/+/#',
    'stockgate/v1/s1/+',
    'stockgate/v1/#',
    'stockgate/#',
    '#',
    topics.acks('s1', 'e1'),
    topics.status('s1', 'e1'),
    '$share/g/stockgate/v1/s1/alerts/#',
    '$SYS/#',
  ])('denies %s', (f) => expect(sub(alerts, f)).toBe(false));
});

describe('MQTT ACL: properties', () => {
  const level = fc.constantFrom('stockgate', 'v1', 's1', 's2', 'e1', 'e2', 'alerts', 'movements', 'acks', 'rejects', 'status', 'telemetry', 'config', 'items', 'x');
  const topicArb = fc.array(level, { minLength: 1, maxLength: 6 }).map((l) => l.join('/'));
  const filterArb = fc
    .tuple(fc.array(fc.oneof(level, fc.constant('+')), { minLength: 1, maxLength: 6 }), fc.boolean())
    .map(([l, hash]) => [...l, ...(hash ? ['#'] : [])].join('/'));

  it('an edge may only publish under its own stockgate/v1/{site}/{edge}/', () => {
    fc.assert(
      fc.property(topicArb, fc.boolean(), (t, retain) => {
        if (!pub(edge, t, retain)) return;
        const p = parseEdgeTopic(t);
        expect(p && p.site === 's1' && p.edge === 'e1').toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  it('a filter granted to an edge matches nothing but its own acks, rejects, config and items', () => {
    const own = new Set([topics.acks('s1', 'e1'), topics.rejects('s1', 'e1'), topics.config('s1', 'e1'), topics.items('s1', 'e1')]);
    fc.assert(
      fc.property(filterArb, topicArb, (f, t) => {
        if (sub(edge, f) && filterToRegExp(f).test(t)) expect(own.has(t)).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  it('a filter granted to an alerts user matches only topics under stockgate/v1/{site}/alerts', () => {
    fc.assert(
      fc.property(filterArb, topicArb, (f, t) => {
        if (sub(alerts, f) && filterToRegExp(f).test(t)) expect(t === 'stockgate/v1/s1/alerts' || t.startsWith('stockgate/v1/s1/alerts/')).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('MQTT usernames', () => {
  it('edge usernames are two topic levels (Mosquitto %u patterns), alerts usernames one', () => {
    expect(edgeUsername('depot-1', 'dock-1')).toBe('depot-1/dock-1');
    expect(alertsUsername('depot-1', 'ab12')).toBe('alerts.depot-1.ab12');
    expect(alertsUsername('depot-1', 'ab12')).not.toContain('/');
  });
});

describe('MQTT ACL: alerts of one project (issue 10 §5)', () => {
  const pa: MqttPrincipal = { role: 'alerts', username: 'alerts.s1.p', site: 's1', project: 'A' };
  it('subscribes inside stockgate/v1/{site}/alerts/projects/{project}/# only', () => {
    for (const f of ['stockgate/v1/s1/alerts/projects/A/#', 'stockgate/v1/s1/alerts/projects/A/over-issue', 'stockgate/v1/s1/alerts/projects/A/+']) expect(authorizeSubscribe(pa, f), f).toEqual({ ok: true });
    for (const f of ['stockgate/v1/s1/alerts/#', 'stockgate/v1/s1/alerts/+/A/#', 'stockgate/v1/s1/alerts/projects/+/over-issue', 'stockgate/v1/s1/alerts/projects/#', 'stockgate/v1/s1/alerts/projects/B/#', 'stockgate/v1/s1/alerts/low-stock', 'stockgate/v1/s2/alerts/projects/A/#', '#']) {
      expect(authorizeSubscribe(pa, f).ok, f).toBe(false);
    }
    expect(authorizePublish(pa, 'stockgate/v1/s1/alerts/projects/A/x', false).ok).toBe(false);
    // The site's reader still sees the project's alerts (they are inside its subtree).
    expect(authorizeSubscribe({ role: 'alerts', username: 'alerts.s1.x', site: 's1' }, 'stockgate/v1/s1/alerts/projects/A/#')).toEqual({ ok: true });
  });
});
