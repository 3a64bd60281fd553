import createError from '@fastify/error';
import type { ErrorCatalog } from '../protocols/errors.js';

/**
 * The cloud's one error catalog (after fastify's FST_ERR_*): every HTTP error has a stable code.
 * Bodies look like `{"statusCode":400,"code":"SG_ERR_BAD_QUERY","error":"Bad Request","message":"limit: ..."}`.
 */
export const Errors = {
  BadQuery: createError<[string]>('SG_ERR_BAD_QUERY', '%s', 400),
  BadBody: createError<[string]>('SG_ERR_BAD_BODY', '%s', 400),
  /** A path parameter that is not valid (NUL, control characters, invalid UTF-8, not an id). */
  BadPath: createError<[string]>('SG_ERR_BAD_PATH', '%s', 400),
  Unauthorized: createError<[string]>('SG_ERR_UNAUTHORIZED', '%s', 401),
  Forbidden: createError<[string]>('SG_ERR_FORBIDDEN', '%s', 403),
  NotFound: createError<[string]>('SG_ERR_NOT_FOUND', '%s', 404),
  Conflict: createError<[string]>('SG_ERR_CONFLICT', '%s', 409),
  /** A REST movement id re-posted with other content (issue 8 #7); the message shows the original's hash. */
  IdempotencyConflict: createError<[string]>('SG_ERR_IDEMPOTENCY_CONFLICT', '%s', 409),
  Unavailable: createError<[string]>('SG_ERR_UNAVAILABLE', '%s', 503),
  /** A cost dated in a closed month, or a month closed twice (issue 10 §4, cloud/costing). */
  PeriodClosed: createError<[string]>('SG_ERR_PERIOD_CLOSED', '%s', 409),
  /** A stage material plan that cannot be exploded (unknown BOM, bad quantity): 422 naming the line (cloud/projects). */
  BadPlan: createError<[string]>('SG_ERR_BAD_PLAN', '%s', 422),
};

/**
 * Codes of the MQTT door that are not HTTP answers: they name why the embedded broker closed a
 * connection (logged, counted in /healthz `broker`), issue 8 finding 4.
 */
export const MqttDoorErrorCodes = {
  /** A packet's remaining length (fixed header) is over `--max-packet-bytes`: refused before buffering. */
  SG_ERR_MQTT_PACKET_TOO_LARGE: 'SG_ERR_MQTT_PACKET_TOO_LARGE',
  /** More than 4 KiB sent before authentication (CONNECT included). */
  SG_ERR_MQTT_PRE_AUTH_LIMIT: 'SG_ERR_MQTT_PRE_AUTH_LIMIT',
} as const;

/**
 * The catalog of `cloud/` (the format: protocols/errors.ts): HTTP error codes (bodies
 * `{"statusCode","code","error","message"}`), business-rule codes and the service's log codes.
 */
export const CLOUD_ERRORS = {
  SG_ERR_BAD_QUERY: '400: a query parameter is invalid; the message names it.',
  SG_ERR_BAD_BODY: '400: the request body is invalid; the message names the field.',
  SG_ERR_BAD_PATH: '400: a path parameter is invalid (bad percent-encoding, NUL, out of range); the message names it.',
  SG_ERR_BAD_REQUEST: '400: a malformed request fastify refused before the route (e.g. bad JSON).',
  SG_ERR_UNAUTHORIZED: '401: no valid Bearer token.',
  SG_ERR_FORBIDDEN: '403: the token lacks the role, or the resource is outside its sites.',
  SG_ERR_NOT_FOUND: '404: no such resource (or route).',
  SG_ERR_CONFLICT: '409: the resource exists or changed (an MQTT user that exists, a stale version).',
  SG_ERR_IDEMPOTENCY_CONFLICT: '409: a movement id reused with different content; the original\'s hash is shown.',
  SG_ERR_ALREADY_INITIALISED: 'admin init on a data dir that has its admin token (use --rotate).',
  SG_ERR_BODY_TOO_LARGE: '413: the request body is over the limit.',
  SG_ERR_UNSUPPORTED_MEDIA_TYPE: '415: a content-type the route does not take.',
  SG_ERR_UNAVAILABLE: '503: a dependency is down (store, broker), or the ingest queue is over its bound (`--max-queued`); nothing was done, retry (Retry-After).',
  SG_ERR_INTERNAL: '500: an unexpected error (logged with its stack; never caused by input).',
  SG_ERR_CONFIG: 'The cloud configuration is invalid; the message names the flag.',
  SG_ERR_MQTT_PACKET_TOO_LARGE: 'Embedded broker: a packet\'s remaining length (fixed header) is over --max-packet-bytes: the connection is closed before buffering it.',
  SG_ERR_MQTT_PRE_AUTH_LIMIT: 'Embedded broker: more than 4 KiB sent before authentication (CONNECT included): the connection is closed.',
  SG_ERR_DB_OPEN: 'The cloud database (SQLite file or PostgreSQL) cannot be opened.',
  SG_ERR_DB_MIGRATION: 'A schema migration failed, or the database was migrated by a newer release.',
  SG_ERR_DB_UPGRADE: 'The data of an older release (separate SQLite files) could not be moved into the one database.',
  SG_ERR_DB_REUSABLE: 'A reusable query\'s builder used an argument value outside a parameter (a programming error, refused on its first run): the message names the query and the value.',
  SG_ERR_ACK_KEY_MISSING: 'No ack key is stored for an edge (a credential of an earlier release behind an external broker): its acks go unsigned and it drops them; rotate the credential. Logged once per edge.',
  SG_ERR_MONEY: 'An amount is not a valid money value (decimal string, minor units).',
  SG_ERR_NO_APPROVAL_RULE: 'No approval band covers the amount.',
  SG_ERR_SELF_APPROVAL: 'The requester may not approve their own document.',
  SG_ERR_NOT_APPROVER: 'The caller is not an approver of the document\'s band.',
  SG_ERR_ILLEGAL_TRANSITION: 'The document cannot go from its state to the one asked for.',
  SG_ERR_NO_PRICE: '422: a requisition line has no price: no unitPrice, no earlier PO price, no moving-average cost and no standard cost; the message names the line.',
  SG_ERR_INVALID_RULES: 'The approval rules are invalid (overlapping or missing bands).',
  SG_ERR_PERIOD_CLOSED: '409: the month is closed (its cost figures are frozen): a cost line dated in it, or closing it again.',
  SG_ERR_BAD_PLAN: 'A stage material plan is invalid (unknown BOM, a quantity with more than 3 decimals, a non-positive quantity); the message names the line.',
  SG_ERR_INSUFFICIENT_STOCK: '409: a sales order cannot be reserved in full (and allowPartial is not set): nothing is reserved; `lines` lists each short line as {sku, requested, available}.',
  SG_ERR_LOCK_TIMEOUT: '503: a reservation waited more than 3 s for a stock row another transaction holds; nothing was done, retry (Retry-After).',
  SG_ERR_ERP_DELIVERY: 'An ERP delivery failed (logged with the event id and attempt); it is retried with backoff, and marked failed after the last attempt (cloud/erp).',
  SG_ERR_IDEMPOTENCY_KEY: '400: the Idempotency-Key header is missing or not 1-128 printable characters.',
} as const satisfies ErrorCatalog;
