/**
 * One error catalog for `protocols/` (after fastify's `createError`): every error carries a stable
 * code that callers and the CLI can match on, and a message naming the field or byte at fault.
 */
export const ProtocolErrorCodes = {
  /** Input is not valid for the format at all (wrong characters, wrong length). */
  SG_ERR_PROTO_SYNTAX: 'SG_ERR_PROTO_SYNTAX',
  /** A check digit, checksum or CRC did not match. */
  SG_ERR_PROTO_CHECK: 'SG_ERR_PROTO_CHECK',
  /** A GS1 element string cannot be split unambiguously (e.g. a missing GS separator). */
  SG_ERR_PROTO_AMBIGUOUS: 'SG_ERR_PROTO_AMBIGUOUS',
  /** An application identifier, header or scheme we do not know. */
  SG_ERR_PROTO_UNKNOWN: 'SG_ERR_PROTO_UNKNOWN',
  /** A value outside its allowed range (a date with month 13, a partition of 7, ...). */
  SG_ERR_PROTO_RANGE: 'SG_ERR_PROTO_RANGE',
  /** An argument given by the caller is invalid (not device data). */
  SG_ERR_PROTO_ARGUMENT: 'SG_ERR_PROTO_ARGUMENT',
} as const;

export type ProtocolErrorCode = keyof typeof ProtocolErrorCodes;

export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  constructor(code: ProtocolErrorCode, message: string) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
  }
}

/**
 * An error catalog: code -> what it means (one line, for docs/errors.md). Every top-level folder
 * has one (`protocols/errors.ts`, `devices/errors.ts`, `edge/errors.ts`, `cloud/errors.ts`,
 * `cli/errors.ts`); `npm run docs:errors` renders them into docs/errors.md, and
 * tests/architecture/error-catalog.test.ts fails when that file is stale or a folder uses a code
 * no catalog it may import lists (issue 8, deliverable 11).
 */
export type ErrorCatalog = Readonly<Record<`SG_ERR_${string}`, string>>;

/** The catalog of `protocols/`: parsers, the MQTT wire contract and the migration runner. */
export const PROTOCOL_ERRORS = {
  SG_ERR_PROTO_SYNTAX: 'Input is not valid for the format at all (wrong characters, wrong length); the message names the field or byte.',
  SG_ERR_PROTO_CHECK: 'A check digit, checksum or CRC did not match (GS1 check digit, BCC, CRC-16).',
  SG_ERR_PROTO_AMBIGUOUS: 'A GS1 element string cannot be split unambiguously (a missing GS separator after a variable-length field).',
  SG_ERR_PROTO_UNKNOWN: 'An application identifier, header, protocol or EPC scheme we do not know.',
  SG_ERR_PROTO_RANGE: 'A value outside its allowed range (a date with month 13, an SGTIN partition of 7, ...).',
  SG_ERR_PROTO_ARGUMENT: 'An argument given by the caller is invalid (not device data): a bad option, a missing input.',
  SG_ERR_MIGRATION: 'A schema migration (migrations/versioned.ts: edge outbox.db, state.db) failed and was rolled back, or its step list is invalid; the message names the schema, version and step.',
  SG_ERR_MIGRATION_NEWER: 'The database (or edge data dir file) was written by a newer stockgate: it is at a version this release does not know; nothing was changed.',
} as const satisfies ErrorCatalog;
