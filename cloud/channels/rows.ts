/** Row mapping shared by the ChannelStore implementations. */
import type { Channel, ChannelDelivery, ChannelWithSecret } from './model.js';

/** A channels row (JSON columns as text) in the interface's shape; optional columns absent, not null. */
export function toChannel(r: Record<string, unknown>, withSecret: true): ChannelWithSecret;
export function toChannel(r: Record<string, unknown>, withSecret?: false): Channel;
export function toChannel(r: Record<string, unknown>, withSecret = false): ChannelWithSecret {
  const c: ChannelWithSecret = {
    id: String(r.id),
    type: r.type as Channel['type'],
    routes: JSON.parse(String(r.routes)),
    lang: r.lang as Channel['lang'],
    createdAt: r.createdAt instanceof Date ? r.createdAt.toISOString() : String(r.createdAt),
  };
  if (r.name !== null && r.name !== undefined) c.name = String(r.name);
  if (r.url !== null && r.url !== undefined) c.url = String(r.url);
  if (r.smtp !== null && r.smtp !== undefined) c.smtp = JSON.parse(String(r.smtp));
  if (r.link !== null && r.link !== undefined) c.link = String(r.link);
  if (withSecret && r.secret !== null && r.secret !== undefined) c.secret = String(r.secret);
  return c;
}

const iso = (v: unknown): string | null => (v === null || v === undefined ? null : v instanceof Date ? v.toISOString() : String(v));

export function toChannelDelivery(r: Record<string, unknown>): ChannelDelivery {
  return {
    id: Number(r.id),
    channelId: String(r.channelId),
    eventId: String(r.eventId),
    state: r.state as ChannelDelivery['state'],
    attempts: Number(r.attempts),
    nextAttemptAt: r.nextAttemptAt === null || r.nextAttemptAt === undefined ? null : new Date(Number(r.nextAttemptAt)).toISOString(),
    lastErrorCode: (r.lastErrorCode as string | null) ?? null,
    lastError: (r.lastError as string | null) ?? null,
    createdAt: iso(r.createdAt)!,
    deliveredAt: iso(r.deliveredAt),
    body: String(r.body),
  };
}

export const CHANNEL_COLS = 'id, type, name, url, smtp, secret, routes, lang, link, created_at AS "createdAt"';
export const DELIVERY_COLS = `id, channel_id AS "channelId", event_id AS "eventId", state, attempts, next_attempt_at AS "nextAttemptAt",
  last_error_code AS "lastErrorCode", last_error AS "lastError", created_at AS "createdAt", delivered_at AS "deliveredAt", body`;
