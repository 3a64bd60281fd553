import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { EdgeId, SiteId } from '../protocols/mqtt/index.js';
import { parseDeviceSpec } from '../devices/registry.js';

export const ScanMode = z.enum(['receive', 'issue', 'return', 'count']);
export type ScanMode = z.infer<typeof ScanMode>;

/**
 * Edge agent configuration. Sources, lowest precedence first: defaults, the `--config` JSON file,
 * command-line flags (flags win). Validated once at start; a bad value stops the agent with an
 * error naming the field.
 */
export const EdgeConfig = z.strictObject({
  /** Folder for the outbox database and local state. */
  dataDir: z.string().min(1),
  /** Broker URL: mqtt://HOST:PORT, mqtts://, ws://, wss://. */
  broker: z.string().regex(/^(mqtts?|wss?):\/\/[^\s/]+/, 'broker: expected mqtt://HOST:PORT'),
  site: SiteId,
  edgeId: EdgeId,
  /** Default location of movements until a LOC: control scan changes it. */
  location: z.string().min(1).max(64),
  /** Default movement kind until a MODE: control scan changes it. Default receive. */
  mode: ScanMode.default('receive'),
  /** Unit of measure of scanned items. Default `ea`. */
  uom: z.string().min(1).max(16).default('ea'),
  /** `NAME=DRIVER@URI` entries. */
  devices: z
    .array(z.string())
    .default([])
    .superRefine((specs, ctx) => {
      const names = new Set<string>();
      specs.forEach((s, i) => {
        try {
          const d = parseDeviceSpec(s);
          if (names.has(d.name)) ctx.addIssue({ code: 'custom', path: [i], message: `duplicate device name '${d.name}'` });
          names.add(d.name);
        } catch (err) {
          ctx.addIssue({ code: 'custom', path: [i], message: (err as Error).message });
        }
      });
    }),
  username: z.string().min(1).optional(),
  password: z.string().min(1).optional(),
  /** Movements per published batch. Default 500. */
  batchSize: z.number().int().min(1).max(1000).default(500),
  /** Batches in flight awaiting the cloud's ack. Default 8. */
  window: z.number().int().min(1).max(256).default(8),
  /** ms before an unacked batch is resent. Default 10000. */
  ackTimeoutMs: z.number().int().min(100).default(10_000),
  /** ms between telemetry publishes; 0 turns telemetry off. Default 10000. */
  telemetryMs: z.number().int().min(0).default(10_000),
});
export type EdgeConfig = z.infer<typeof EdgeConfig>;
export type EdgeConfigInput = z.input<typeof EdgeConfig>;

export class ConfigError extends Error {
  readonly code = 'SG_ERR_CONFIG';
}

/** Validate; on failure throw a ConfigError whose message names every bad field. */
export function parseEdgeConfig(input: unknown): EdgeConfig {
  const r = EdgeConfig.safeParse(input);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
  throw new ConfigError(`invalid edge configuration:\n${lines.join('\n')}`);
}

/** Read a JSON config file; errors name the file. */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`config file ${path}: ${(err as Error).message}`);
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`config file ${path}: ${(err as Error).message}`);
  }
}
