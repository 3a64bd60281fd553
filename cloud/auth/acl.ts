import { parseEdgeTopic, TOPIC_ROOT, topics, type EdgeChannel } from '../../protocols/mqtt/index.js';

/**
 * MQTT topic ACL of the embedded broker: pure decisions, no I/O (unit-tested exhaustively in
 * tests/cloud/auth/acl.test.ts). The same policy for Mosquitto is in deploy/mosquitto/acl.
 *
 * | role     | username               | may publish                                            | may subscribe                                  |
 * |----------|------------------------|--------------------------------------------------------|------------------------------------------------|
 * | `edge`   | `{site}/{edge}`        | its own `movements`, `telemetry`, `status` (retained only there; also its will) | exactly its own `acks`, `rejects`, `config` |
 * | `alerts` | `alerts.{site}.{id}`   | nothing                                                | filters inside `stockgate/v1/{site}/alerts/#`  |
 * | `alerts` of a project | `alerts.{site}.{id}` | nothing                                  | filters inside `stockgate/v1/{site}/alerts/projects/{project}/#` (issue 10 §5) |
 *
 * Everything else is denied: other sites and edges, wildcards reaching outside the subtree,
 * `$SYS/...`, `$share/...`. The cloud's own in-process publishes and subscriptions do not pass
 * through these hooks.
 */
export type MqttPrincipal =
  | { role: 'edge'; username: string; site: string; edge: string }
  | { role: 'alerts'; username: string; site: string; project?: string };

export type MqttRole = MqttPrincipal['role'];

export type Decision = { ok: true } | { ok: false; reason: string };

const OK: Decision = { ok: true };
const deny = (reason: string): Decision => ({ ok: false, reason });

/** Channels an edge publishes on. Only `status` is retained (and carries the last will). */
const EDGE_PUBLISH = new Set<EdgeChannel>(['movements', 'status', 'telemetry']);

/**
 * Username of an edge's MQTT credentials. The `/` makes it two topic levels, so Mosquitto's
 * `pattern write stockgate/v1/%u/movements` expresses the same policy (see deploy/mosquitto/acl).
 */
export function edgeUsername(site: string, edge: string): string {
  return `${site}/${edge}`;
}

/**
 * Username of an alerts subscriber. No `/` on purpose: Mosquitto's `%u` pattern rules then expand
 * to 4-level topics that are no edge topic, so the edge patterns grant such a user nothing.
 */
export function alertsUsername(site: string, suffix: string): string {
  return `alerts.${site}.${suffix}`;
}

/** May `p` publish a message on `topic` (with the retain flag `retain`)? */
export function authorizePublish(p: MqttPrincipal, topic: string, retain: boolean): Decision {
  if (p.role === 'alerts') return deny('alerts credentials are read-only');
  const t = parseEdgeTopic(topic);
  if (!t) return deny(`not an edge topic: ${topic}`);
  if (t.site !== p.site || t.edge !== p.edge) return deny(`outside ${TOPIC_ROOT}/${p.site}/${p.edge}/`);
  if (!EDGE_PUBLISH.has(t.channel)) return deny(`edges do not publish on ${t.channel}`);
  if (retain && t.channel !== 'status') return deny(`retained ${t.channel} not allowed`);
  return OK;
}

/** May `p` subscribe to `filter` (a valid MQTT topic filter)? */
export function authorizeSubscribe(p: MqttPrincipal, filter: string): Decision {
  if (filter.startsWith('$')) return deny('$-topics ($SYS, $share) are not for clients');
  if (p.role === 'edge') {
    const own = [topics.acks(p.site, p.edge), topics.rejects(p.site, p.edge), topics.config(p.site, p.edge), topics.items(p.site, p.edge)];
    return own.includes(filter) ? OK : deny(`edges subscribe only to their own acks, rejects, config and items`);
  }
  // Every topic the filter can match must lie in stockgate/v1/{site}/alerts/#: the first four
  // levels must be exactly these literals (a wildcard there could reach other sites or edges).
  // A project's reader: inside stockgate/v1/{site}/alerts/projects/{project}/# (literals again).
  const levels = filter.split('/');
  const prefix = [...TOPIC_ROOT.split('/'), p.site, 'alerts', ...(p.project === undefined ? [] : ['projects', p.project])];
  if (levels.length < prefix.length || prefix.some((l, i) => levels[i] !== l)) return deny(`outside ${prefix.join('/')}/#`);
  return OK;
}
