/** Shared CLI output helpers: JSON on stdout, coded JSON errors on stderr. */

/** Exit code for invalid input (a decode that fails, a bad flag value). */
export const EXIT_INVALID = 2;

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/**
 * Print `{"error":{"code","message"}}` on stderr and exit with code 2 (invalid input).
 * `extra` fields are merged into the error object.
 */
export function failJson(code: string, message: string, extra: Record<string, unknown> = {}): never {
  process.stderr.write(`${JSON.stringify({ error: { code, message, ...extra } })}\n`);
  process.exit(EXIT_INVALID);
}

/** Map any thrown error to the JSON error contract; errors with a `code` keep it. */
export function failFromError(err: unknown, fallbackCode = 'SG_ERR_INVALID_INPUT'): never {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : fallbackCode;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  failJson(code, message);
}

/** Parse a hex string (spaces, colons and 0x prefixes allowed) into bytes; throws a coded error. */
export function parseHexArg(text: string): Uint8Array {
  const clean = text.replace(/0x/gi, '').replace(/[\s:,-]/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) {
    const bad = clean.search(/[^0-9a-fA-F]/);
    const why = bad >= 0 ? `non-hex character '${clean[bad]}' at position ${bad}` : 'odd number of hex digits';
    throw Object.assign(new Error(`--hex: ${why}`), { code: 'SG_ERR_BAD_HEX' });
  }
  return Uint8Array.from(Buffer.from(clean, 'hex'));
}
