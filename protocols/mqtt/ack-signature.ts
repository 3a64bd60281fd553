/**
 * Signed acks and rejects (issue 8, finding 6): on a broker without ACLs anyone can publish on
 * `.../acks`, and one forged ack `{"ranges":[[1,1000000]]}` made an edge delete outbox rows it had
 * never published. The cloud signs what it publishes to an edge with HMAC-SHA256 under a per-edge
 * ack key that only the cloud and that edge know; the edge drops (and counts) what fails.
 *
 * - Key: `deriveAckKey(secret)` = HMAC-SHA256(key = secret, "stockgate/ack"). For an
 *   authenticated edge the secret is its MQTT password (the cloud stores only the derived key, never
 *   the password); for `--insecure` both sides may take `--ack-key SECRET`.
 * - Signature: `sig` = lowercase hex HMAC-SHA256(ackKey, canonical bytes) where the canonical
 *   bytes are the UTF-8 of the lines below joined by LF (no trailing LF). Ranges are written
 *   `a-b` joined by `,` (an empty list is the empty string); absent `missing`/`ids`/`deadLetterId`
 *   are empty strings. Every field but the reject's free-text message (the last line) is an id,
 *   number, timestamp, range list or JSON array with no raw LF, and every field has a fixed line,
 *   so two different messages never share canonical bytes.
 *
 *       ack:    "stockgate/ack/v1", site, edge, ranges, duplicates, missing, at [, batchVersions]
 *       reject: "stockgate/reject/v1", site, edge, reason, ranges, ids (a JSON array), deadLetterId, at, message
 *
 *   An ack's `batchVersions` (movement-rows.ts), written `1,2`, is an eighth line only when the
 *   ack carries it; the cloud sends it only to an edge that asked, so an ack to an edge built
 *   before it has the seven lines that edge verifies. Seven lines and eight never coincide: `at`
 *   holds no LF.
 *
 *   The site comes from the topic the message arrived on (the payload only names the edge), so a
 *   signed ack cannot be replayed to another site's edge of the same name.
 * - `sig` is optional in the schema: an unsigned ack is still valid wire format (clouds before
 *   this release, `--insecure` without `--ack-key`). An edge that has a key requires a valid `sig`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SeqRange } from './seq-ranges.js';

/** The label HMAC'd with the edge's secret to make its ack key. */
export const ACK_KEY_LABEL = 'stockgate/ack';

/** Derive the 32-byte ack key from an edge's MQTT password (or an `--ack-key` secret). */
export function deriveAckKey(secret: string): Buffer {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(ACK_KEY_LABEL).digest();
}

const ranges = (rs: readonly SeqRange[] | undefined): string => (rs ?? []).map(([a, b]) => `${a}-${b}`).join(',');

/** The fields of an ack that its signature covers. */
export interface AckContent {
  edge: string;
  ranges: readonly SeqRange[];
  duplicates: number;
  missing?: readonly SeqRange[] | undefined;
  at: string;
  batchVersions?: readonly number[] | undefined;
}

/** The fields of a reject that its signature covers. */
export interface RejectContent {
  edge: string;
  reason: string;
  message: string;
  ranges?: readonly SeqRange[] | undefined;
  ids?: readonly string[] | undefined;
  deadLetterId?: number | undefined;
  at: string;
}

/** Canonical bytes of an ack (see the file comment). */
export function canonicalAck(site: string, a: AckContent): string {
  const lines = ['stockgate/ack/v1', site, a.edge, ranges(a.ranges), String(a.duplicates), ranges(a.missing), a.at];
  if (a.batchVersions !== undefined) lines.push(a.batchVersions.join(','));
  return lines.join('\n');
}

/** Canonical bytes of a reject (see the file comment). The message is last: it may hold anything. */
export function canonicalReject(site: string, r: RejectContent): string {
  return ['stockgate/reject/v1', site, r.edge, r.reason, ranges(r.ranges), JSON.stringify(r.ids ?? []), r.deadLetterId === undefined ? '' : String(r.deadLetterId), r.at, r.message].join('\n');
}

function hmacHex(key: Buffer, text: string): string {
  return createHmac('sha256', key).update(text, 'utf8').digest('hex');
}

export function signAck(key: Buffer, site: string, a: AckContent): string {
  return hmacHex(key, canonicalAck(site, a));
}

export function signReject(key: Buffer, site: string, r: RejectContent): string {
  return hmacHex(key, canonicalReject(site, r));
}

function sigEquals(expected: string, given: unknown): boolean {
  if (typeof given !== 'string' || given.length !== expected.length || !/^[0-9a-f]+$/.test(given)) return false;
  return timingSafeEqual(Buffer.from(expected, 'hex'), Buffer.from(given, 'hex'));
}

/** True when `sig` is the ack's signature under `key` (timing-safe). */
export function verifyAck(key: Buffer, site: string, a: AckContent, sig: unknown): boolean {
  return sigEquals(signAck(key, site, a), sig);
}

/** True when `sig` is the reject's signature under `key` (timing-safe). */
export function verifyReject(key: Buffer, site: string, r: RejectContent, sig: unknown): boolean {
  return sigEquals(signReject(key, site, r), sig);
}

/**
 * Clip ranges to `[1, max]`: an edge never frees a seq it has not sent (a forged or stale ack
 * naming seqs above its highest seq sent is ignored for those seqs). Returns the kept ranges and
 * how many seqs were cut.
 */
export function clipRanges(rs: readonly SeqRange[], max: number): { kept: SeqRange[]; cut: number } {
  const kept: SeqRange[] = [];
  let cut = 0;
  for (const [a, b] of rs) {
    if (a > max) {
      cut += b - a + 1;
      continue;
    }
    if (b > max) {
      cut += b - max;
      kept.push([a, max]);
    } else kept.push([a, b]);
  }
  return { kept, cut };
}
