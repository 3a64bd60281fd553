/**
 * The wire contract, version 1 (issue 15: one file per message family; `index.ts` is the public
 * face): the pieces every payload shares. Payloads are UTF-8 JSON. Every message carries `v` (the
 * schema version); a receiver rejects a version it does not know with reason
 * `UNSUPPORTED_VERSION` instead of guessing. Unknown object keys are stripped, not rejected, so a
 * newer edge can add optional fields within version 1 without breaking an older cloud.
 *
 * The families: `movement.ts` (`.../movements`), `ack.ts` (`.../acks`, `.../rejects`),
 * `status.ts` (`.../status`, `.../telemetry`), `remote-config.ts` (`.../config`, the item master).
 */
import { z } from 'zod';
import { isSafeText } from './json-guard.js';
import { ID_PATTERN, RESERVED_EDGE_IDS } from './topics.js';

export const SCHEMA_VERSION = 1 as const;

/** Most movements in one batch message. Bounds memory and one transaction's size at the cloud. */
export const MAX_BATCH = 1000;

/**
 * Text fields: 1..max characters, no control character and no lone surrogate (issue 8, finding 8:
 * such strings reached the ledger as mangled SKUs; PostgreSQL refuses NUL in text outright).
 */
export const text = (max: number) => z.string().min(1).max(max).refine(isSafeText, 'no control characters or invalid Unicode allowed');

/**
 * Largest |qty| of one movement, in its uom (issue 8, finding 7: a qty of 1e308 was accepted and two
 * receives made a balance +Infinity). 1e9 is far above any real movement and keeps every balance
 * a finite double (the ledger would need 1e299 movements to overflow).
 */
export const MAX_QTY = 1e9;

export const SiteId = z.string().regex(ID_PATTERN, 'site: 1-64 of [A-Za-z0-9._-], starting alphanumeric');
export const EdgeId = z
  .string()
  .regex(ID_PATTERN, 'edge: 1-64 of [A-Za-z0-9._-], starting alphanumeric')
  .refine((e) => !RESERVED_EDGE_IDS.has(e), 'edge: this id is reserved');

/** ISO-8601 instant with an offset or Z, e.g. 2026-11-22T02:19:00.000Z. */
export const Instant = z.iso.datetime({ offset: true });
/** Calendar date, e.g. an expiry 2027-03-31. */
export const IsoDate = z.iso.date();

export const DeviceRef = z.object({
  /** The device's name in the edge config (`--device NAME=...`). */
  id: text(64),
  /** Driver or device class, e.g. `scanner`, `scale-mt-sics`, `rfid-m100`, `manual`. */
  type: text(64),
});

/** First issue of a failed zod parse as `path: message` (messages already name their field). */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  const path = issue.path.join('.');
  return path && !issue.message.startsWith(`${String(issue.path[issue.path.length - 1])}:`) ? `${path}: ${issue.message}` : issue.message;
}

