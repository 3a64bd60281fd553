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
