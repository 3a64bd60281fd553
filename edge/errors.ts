import type { ErrorCatalog } from '../protocols/errors.js';

/**
 * The catalog of `edge/` (the format: protocols/errors.ts). Operator-facing refusals are also the
 * status's `lastError`/`lastWarning` and, where the driver can, an error beep.
 */
export const EDGE_ERRORS = {
  SG_ERR_NOT_FOUND: 'Edge metrics endpoint (--metrics-port): 404, only GET /metrics exists.',
  SG_ERR_INTERNAL: 'Edge metrics endpoint (--metrics-port): 500 while rendering the metrics.',
  SG_ERR_CONFIG: 'The edge configuration is invalid: flags, --config file or remote config; the message names the flag or key.',
  SG_ERR_OUTBOX_FULL: 'The outbox reached --outbox-max-bytes: the movement was refused, not recorded (scan it again when the link is back).',
  SG_ERR_OUTBOX_WRITE: 'The outbox could not write the movement (disk full, I/O error): refused, not recorded.',
  SG_ERR_OUTBOX_OWNER: 'The outbox file in --data-dir belongs to another site/edge id.',
  SG_ERR_BROKER_UNREACHABLE: 'The MQTT broker cannot be reached: movements keep going to the outbox; warn at once, then once a minute.',
  SG_ERR_DEVICE_ABSENT: 'A configured device is absent at start: retried with backoff; status problem device-disconnected:<name>.',
  SG_ERR_ACK_SIGNATURE: 'An ack or reject without a valid HMAC was dropped (forged, or the cloud holds another ack key); status problem ack-signature-invalid.',
  SG_ERR_ACK_BEYOND_SENT: 'An ack or reject named seqs above the highest seq sent: those seqs were ignored; status problem ack-beyond-sent.',
  SG_ERR_CLOUD_REJECT_: 'Prefix: the cloud rejected movements (dead-lettered) with the reason after it (INVALID_JSON, INVALID_SCHEMA, UNSUPPORTED_VERSION, TOPIC_MISMATCH, TOO_LARGE).',
  SG_ERR_DUPLICATE_IDENTITY: 'A serialised unit (GS1 serial, SGTIN) already in stock here was read again: sent for the cloud\'s exception queue.',
  SG_ERR_SCAN_EMPTY: 'An empty scan.',
  SG_ERR_SCAN_CONTROL: 'A control scan (MODE:, QTY:, PRJ:, ...) with a bad value.',
  SG_ERR_SCAN_CONTEXT: 'An issue scanned before the context it requires (--issue-requires project,crew,...).',
  SG_ERR_SCAN_ITEM: 'The scan is not an item (an SSCC logistic label, a GS1 string without a GTIN).',
  SG_ERR_ITEM_UNKNOWN: 'The item is not in the item cache and --unknown-items is reject.',
  SG_ERR_ITEM_SERIAL: 'A serialised item scanned without its serial.',
  SG_ERR_WEIGH_NO_ITEM: 'A weight or SAMPLE: at a weigh station with no item scanned first.',
  SG_ERR_WEIGH_NEEDS_SAMPLE: 'The item has no unit weight: scan SAMPLE:n with a counted sample first.',
  SG_ERR_WEIGH_NOT_ZERO: 'The scale reads a load with nothing counted on it: clear and zero it (warning).',
  SG_ERR_WEIGH_NEGATIVE: 'A negative stable weight: zero the scale.',
  SG_ERR_WEIGH_ZERO_COUNT: 'The load is less than half a piece of the item.',
  SG_ERR_WEIGH_SERIALISED: 'A serialised item placed on a weigh station: scan each unit instead.',
  SG_ERR_COUNT_EMPTY: 'COUNT:END with nothing counted.',
  SG_ERR_COUNT_FULL: 'The open count has too many lines: end it, then count the rest.',
  SG_ERR_COUNT_DUPLICATE: 'A serialised unit scanned twice in one count.',
  SG_ERR_COUNT_NOT_SENT: 'The count could not go to the outbox: it stays open; scan COUNT:END again.',
} as const satisfies ErrorCatalog;
