/**
 * Alerts the business modules raise inside their own transaction (issue 11 §1: a reservation put
 * at risk alerts the order's owner). The alert goes out the way the alert store's alerts do, from
 * the same durable queues, written in the caller's transaction (so the alert and its
 * notifications commit together, and a rolled-back batch notifies nobody):
 * - one MQTT delivery on `stockgate/v1/{site}/alerts/{topicType}` in `deliveries` (the Dispatcher
 *   publishes it, QoS 1, with retries): the site's alert readers (its managers' boards) get it;
 * - one delivery per alert channel whose routes take it (type, site, project, users: the owner's
 *   robot or mailbox is a channel routed to `users: [<user id>]`).
 * Kysely, so one query set serves SQLite and PostgreSQL; the Dispatcher and the channel
 * dispatcher poll their queues (1 s), so nothing has to be kicked from here.
 */
import { topics } from '../../protocols/mqtt/index.js';
import { type AlertEventJson, enqueueChannelAlert } from '../channels/index.js';
import type { Tx } from '../db/index.js';

export interface BusinessAlert {
  /** The alert event (its `eventId` is the receivers' dedup key); `users` route it to people. */
  event: AlertEventJson;
  /** The last level of the MQTT topic, e.g. `reservation-at-risk`. */
  topicType: string;
}

/** Queue the alert for MQTT and the alert channels in `tx`. Returns how many channels got it. */
export async function enqueueBusinessAlert(tx: Tx, a: BusinessAlert, now: Date): Promise<number> {
  const e = a.event;
  await tx
    .insertInto('deliveries')
    .values({ event_id: e.eventId, target: 'mqtt', topic: topics.alerts(e.site, a.topicType), body: JSON.stringify(e), state: 'pending', attempts: 0, next_attempt_at: now.getTime(), created_at: now.toISOString() })
    .execute();
  return enqueueChannelAlert(tx, e, { type: e.type, site: e.site, ...(e.project !== undefined ? { project: e.project } : {}), ...(e.users ? { users: e.users } : {}) }, now);
}
