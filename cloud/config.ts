import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { z } from 'zod';
import { SiteId } from '../protocols/mqtt/index.js';

const Port = z.number().int().min(0).max(65535);

/** Cloud service configuration; a bad value stops the service at start with the field named. */
export const CloudConfig = z.strictObject({
  /** Folder for the ledger database. */
  dataDir: z.string().min(1),
  /** Embedded broker port (ignored with `broker`); 0 picks a free port. Default 1883. */
  mqttPort: Port.default(1883),
  /** HTTP API and board port; 0 picks a free port. Default 8080. */
  httpPort: Port.default(8080),
  /** Bind address for both listeners. Default 127.0.0.1. */
  host: z.string().min(1).default('127.0.0.1'),
  /** External broker URL (Mosquitto, EMQX); when absent, aedes is embedded on `mqttPort`. */
  broker: z.string().regex(/^(mqtts?|wss?):\/\/[^\s/]+/, 'broker: expected mqtt://HOST:PORT').optional(),
  brokerUsername: z.string().min(1).optional(),
  brokerPassword: z.string().min(1).optional(),
  /** Ingest only these sites (default: all). Lets one broker serve several ingesters or tests. */
  sites: z.array(SiteId).optional(),
  /** Turn off MQTT and HTTP authentication. Logged loudly. */
  insecure: z.boolean().default(false),
  /** MQTT client id of this ingester on an external broker; default derived from dataDir. */
  clientId: z.string().min(1).max(64).optional(),
});
export type CloudConfig = z.infer<typeof CloudConfig>;

export class CloudConfigError extends Error {
  readonly code = 'SG_ERR_CONFIG';
}

export function parseCloudConfig(input: unknown): CloudConfig {
  const r = CloudConfig.safeParse(input);
  if (!r.success) {
    throw new CloudConfigError(`invalid cloud configuration:\n${r.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n')}`);
  }
  return r.data;
}

/** Stable per data dir, so a restarted ingester resumes its persistent broker session. */
export function defaultClientId(dataDir: string): string {
  return `sg-cloud-${createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 12)}`;
}
