/** Row mapping shared by the AlertStore implementations. */
import type { Alert, Delivery, Levels, Webhook } from './alert-store.js';

/** Optional columns come back absent, not null (like every optional field of the API). */
function compact<T extends object>(row: Record<string, unknown>, optional: readonly string[]): T {
  const out: Record<string, unknown> = { ...row };
  for (const k of optional) if (out[k] === null || out[k] === undefined) delete out[k];
  return out as T;
}

const ALERT_OPTIONAL = ['sku', 'batch', 'edge', 'device', 'project', 'value', 'threshold'] as const;
const LEVELS_OPTIONAL = ['safetyStock', 'reorderPoint', 'maxStock', 'nearExpiryDays'] as const;

export const toAlert = (r: Record<string, unknown>) => compact<Alert>(r, ALERT_OPTIONAL);
export const toLevels = (r: Record<string, unknown>) => compact<Levels>(r, LEVELS_OPTIONAL);
export const toWebhook = (r: Record<string, unknown>) => compact<Webhook>(r, ['site']);

/** A deliveries row in the interface's shape (`target` → webhookId or topic; epoch ms → ISO). */
export function toDelivery(r: Record<string, unknown>): Delivery {
  const { target, topic, nextAttemptAt, ...rest } = r as { target: string; topic: string | null; nextAttemptAt: number | string | null; id: number | string };
  const next = nextAttemptAt === null ? null : new Date(typeof nextAttemptAt === 'string' ? Number(nextAttemptAt) : nextAttemptAt).toISOString();
  return {
    ...(rest as unknown as Omit<Delivery, 'webhookId' | 'topic' | 'nextAttemptAt'>),
    id: Number(rest.id),
    ...(target === 'mqtt' ? { topic: topic! } : { webhookId: target }),
    nextAttemptAt: next,
  };
}
