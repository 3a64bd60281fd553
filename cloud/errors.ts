import createError from '@fastify/error';

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
