import type { ErrorCatalog } from '../protocols/errors.js';

/**
 * The catalog of `cli/` (the format: protocols/errors.ts). Exit status: 2 for usage and
 * configuration errors, 1 for runtime failures (cli/usage.ts). The CLI also prints the codes of
 * the folders it runs (protocols, devices, edge, cloud).
 */
export const CLI_ERRORS = {
  SG_ERR_USAGE: 'A bad, missing or unknown flag or argument, named as typed (a typo gets "did you mean"). Exit 2.',
  SG_ERR_CONFIG: 'A configuration value is invalid, named by its flag (or by its key in the --config file). Exit 2.',
  SG_ERR_RUNTIME: 'A runtime failure without a code of its own (a port in use, a database that cannot be opened). Exit 1.',
  SG_ERR_ARGUMENT: 'decode/devices: a missing or invalid argument (JSON error on stderr). Exit 2.',
  SG_ERR_BAD_FLAG: 'count-by-weight: a flag value that is not a number or out of range; the JSON error has "flag". Exit 2.',
  SG_ERR_BAD_HEX: 'A --hex value that is not hex (odd digit count or a non-hex character at a position). Exit 2.',
  SG_ERR_INVALID_INPUT: 'decode: the input could not be decoded and carried no code of its own. Exit 2.',
  SG_ERR_NO_SOCAT: 'simulate: socat is not installed (apt-get install socat). Exit 1.',
  SG_ERR_ADMIN: 'admin init: the credential store could not be initialised. Exit 2.',
} as const satisfies ErrorCatalog;
