import createError from '@fastify/error';

/**
 * HTTP errors of the sales area; the codes are in the cloud's catalog (cloud/errors.ts
 * CLOUD_ERRORS, rendered into docs/errors.md).
 */
export const SalesErrors = {
  /** Extra field beside the four: `lines: [{sku, requested, available}]`. */
  InsufficientStock: createError<[string]>('SG_ERR_INSUFFICIENT_STOCK', '%s', 409),
  /** PostgreSQL lock_timeout (55P03) or a wait past 3 s for the SQLite write lock. */
  LockTimeout: createError<[string]>('SG_ERR_LOCK_TIMEOUT', '%s', 503),
  IdempotencyKey: createError<[string]>('SG_ERR_IDEMPOTENCY_KEY', '%s', 400),
  IllegalTransition: createError<[string]>('SG_ERR_ILLEGAL_TRANSITION', '%s', 409),
};
