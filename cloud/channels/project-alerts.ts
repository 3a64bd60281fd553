import type { Tx } from '../db/index.js';
import type { AlertEventJson } from './formats.js';
import type { ChannelRoutes, RouteKey } from './model.js';
import { routeMatches } from './rules.js';

/** A project's alert (issue 10 §1 over-issue), as the projects module raises it. */
export interface ProjectAlert {
  type: 'OVER_ISSUE';
  /** The exception's id in GET /api/v1/exceptions (the event is one per exception). */
  exception: number;
  site: string;
  project: string;
  stage: string;
  sku: string;
  /** Net issued and planned quantity of the stage, in the plan's unit. */
  issued: number;
  planned: number;
  uom?: string;
  raisedAt: string;
}

/**
 * Queue a project alert for every channel whose routes take it (its type, its site, its project:
 * a project manager's robot or mailbox is a channel routed to `projects: [code]`), in the caller's
 * transaction, so the alert and its notifications commit together (issue 13 §3: a durable queue
 * written in the same transaction as the alert). Kysely, so one query set serves SQLite and
 * PostgreSQL. The message names the project (formats.ts).
 */
export async function enqueueProjectAlert(tx: Tx, a: ProjectAlert, now: Date): Promise<number> {
  const event: AlertEventJson = {
    id: `exception-${a.exception}`,
    type: a.type,
    site: a.site,
    event: 'opened',
    eventId: `exception-${a.exception}-opened`,
    sku: a.sku,
    project: a.project,
    stage: a.stage,
    value: a.issued,
    threshold: a.planned,
    ...(a.uom ? { uom: a.uom } : {}),
    raisedAt: a.raisedAt,
  };
  return enqueueChannelAlert(tx, event, { type: a.type, site: a.site, project: a.project }, now);
}

/**
 * Queue one alert event for every channel whose routes take its route key (type, site, project,
 * users), in the caller's transaction (Kysely, both dialects). Returns how many channels got it.
 */
export async function enqueueChannelAlert(tx: Tx, event: AlertEventJson, route: RouteKey, now: Date): Promise<number> {
  const channels = (await tx.selectFrom('channels').select(['id', 'routes']).orderBy('id').execute()) as Array<{ id: string; routes: string }>;
  const body = JSON.stringify(event);
  let n = 0;
  for (const c of channels) {
    if (!routeMatches(JSON.parse(c.routes) as ChannelRoutes, route)) continue;
    await tx
      .insertInto('channel_deliveries')
      .values({ channel_id: c.id, event_id: event.eventId, body, state: 'pending', attempts: 0, next_attempt_at: now.getTime(), created_at: now.toISOString() })
      .execute();
    n++;
  }
  return n;
}
