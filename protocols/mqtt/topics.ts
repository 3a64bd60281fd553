/**
 * The MQTT topic tree of the wire contract, version 1. Every topic an edge uses lives under
 * `stockgate/v1/{site}/{edge}/`, so one ACL pattern per edge covers it (and a site-wide subscriber
 * needs one wildcard level). Alerts live beside the edges as `stockgate/v1/{site}/alerts/{type}`;
 * for that reason `alerts` is a reserved edge id (and `api`, see RESERVED_EDGE_IDS).
 *
 * | topic                                   | direction     | QoS | retained | payload            |
 * |-----------------------------------------|---------------|-----|----------|--------------------|
 * | stockgate/v1/{site}/{edge}/movements    | edge -> cloud | 1   | no       | MovementBatch      |
 * | stockgate/v1/{site}/{edge}/acks         | cloud -> edge | 1   | no       | Ack                |
 * | stockgate/v1/{site}/{edge}/rejects      | cloud -> edge | 1   | no       | Reject             |
 * | stockgate/v1/{site}/{edge}/status       | edge -> all   | 1   | yes      | EdgeStatus (+ LWT) |
 * | stockgate/v1/{site}/{edge}/telemetry    | edge -> cloud | 0   | no       | Telemetry          |
 * | stockgate/v1/{site}/{edge}/config       | cloud -> edge | 1   | yes      | (remote config)    |
 * | stockgate/v1/{site}/{edge}/items        | cloud -> edge | 1   | yes      | ItemMasterSnapshot |
 * | stockgate/v1/{site}/alerts/{type}       | cloud -> subs | 1   | no       | (alerts)           |
 * | stockgate/v1/{site}/alerts/projects/{project}/{type} | cloud -> subs | 1 | no | (a project's alerts, e.g. over-issue) |
 *
 * A project's alerts sit inside the site's alert subtree, so a site-wide alerts reader gets them
 * too, and a project-scoped reader (issue 10 §5) only `.../alerts/projects/{project}/#`.
 */

export const TOPIC_ROOT = 'stockgate/v1';

/**
 * Reserved edge ids: `alerts` names a non-edge subtree of a site; `api` is the edge id the ledger
 * gives movements posted over REST.
 */
export const RESERVED_EDGE_IDS = new Set(['alerts', 'api']);

/**
 * Site and edge ids are single topic levels: no `/`, no MQTT wildcards (`+`, `#`), no `$` prefix,
 * 1..64 characters from a conservative set so they are also safe in file names, SQL and URLs.
 */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export type EdgeChannel = 'movements' | 'acks' | 'rejects' | 'status' | 'telemetry' | 'config' | 'items';

export const topics = {
  movements: (site: string, edge: string) => `${TOPIC_ROOT}/${site}/${edge}/movements`,
  acks: (site: string, edge: string) => `${TOPIC_ROOT}/${site}/${edge}/acks`,
  rejects: (site: string, edge: string) => `${TOPIC_ROOT}/${site}/${edge}/rejects`,
  status: (site: string, edge: string) => `${TOPIC_ROOT}/${site}/${edge}/status`,
  telemetry: (site: string, edge: string) => `${TOPIC_ROOT}/${site}/${edge}/telemetry`,
  config: (site: string, edge: string) => `${TOPIC_ROOT}/${site}/${edge}/config`,
  /** The cloud's item master for this edge's cache: a channel of its own, never the operator's config. */
  items: (site: string, edge: string) => `${TOPIC_ROOT}/${site}/${edge}/items`,
  alerts: (site: string, type: string) => `${TOPIC_ROOT}/${site}/alerts/${type}`,
  /** Alerts of one project of the site (issue 10 §5): readable by that project's readers. */
  projectAlerts: (site: string, project: string, type: string) => `${TOPIC_ROOT}/${site}/alerts/projects/${project}/${type}`,
} as const;

/** Subscriptions of the cloud ingester (all sites, all edges). */
export const filters = {
  movements: `${TOPIC_ROOT}/+/+/movements`,
  status: `${TOPIC_ROOT}/+/+/status`,
  telemetry: `${TOPIC_ROOT}/+/+/telemetry`,
  /** Shared-subscription form for competing ingesters on Mosquitto/EMQX (MQTT 5 / 3.1.1 ext). */
  sharedMovements: (group: string) => `$share/${group}/${TOPIC_ROOT}/+/+/movements`,
} as const;

export interface ParsedEdgeTopic {
  site: string;
  edge: string;
  channel: EdgeChannel;
}

const CHANNELS = new Set<string>(['movements', 'acks', 'rejects', 'status', 'telemetry', 'config', 'items']);

/** Split an edge topic into its parts; `undefined` for anything that is not one. Never throws. */
export function parseEdgeTopic(topic: string): ParsedEdgeTopic | undefined {
  const parts = topic.split('/');
  if (parts.length !== 5 || `${parts[0]}/${parts[1]}` !== TOPIC_ROOT) return undefined;
  const [, , site, edge, channel] = parts as [string, string, string, string, string];
  if (!ID_PATTERN.test(site) || !ID_PATTERN.test(edge) || RESERVED_EDGE_IDS.has(edge)) return undefined;
  if (!CHANNELS.has(channel)) return undefined;
  return { site, edge, channel: channel as EdgeChannel };
}
