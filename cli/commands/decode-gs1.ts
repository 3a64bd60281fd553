import type { Command } from 'commander';
import { parseGs1 } from '../../protocols/barcode/gs1.js';
import type { Gs1Result } from '../../protocols/barcode/gs1-result.js';
import { ProtocolError } from '../../protocols/errors.js';
import { failFromError, parseHexArg, printJson } from '../output.js';

/** Options of `stockgate decode gs1`. */
export interface DecodeGs1Options {
  /** The data as hex bytes instead of text. */
  hex?: string;
  /** Reference date (ISO) for the century window of YYMMDD dates; default now. */
  now?: string;
}

/** The fields the command prints beside `ais`, in this order, when the data carries them. */
const FIELDS = [
  'gtin', 'sscc', 'gln', 'batch', 'serial', 'expiry', 'bestBefore', 'productionDate', 'count', 'netWeightKg',
  'grossWeightKg',
] as const satisfies ReadonlyArray<keyof Gs1Result>;

/**
 * Turn the separator spellings a shell user can type into GS (0x1D): a literal GS, `\x1D`,
 * `\u001d`, `<GS>` and `{GS}` (case-insensitive).
 */
export function unescapeGs(text: string): string {
  return text.replace(/\\x1d|\\u001d|<GS>|\{GS\}/gi, '\u001d');
}

/**
 * The command's logic without process I/O: returns the JSON object to print, throws a coded error.
 * Exported for unit tests.
 */
export function decodeGs1(text: string | undefined, opts: DecodeGs1Options = {}): Record<string, unknown> {
  if ((text === undefined) === (opts.hex === undefined)) {
    throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', 'give exactly one of <text> or --hex <bytes>');
  }
  let now: Date | undefined;
  if (opts.now !== undefined) {
    now = new Date(opts.now);
    if (Number.isNaN(now.getTime())) throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `--now: '${opts.now}' is not a date`);
  }
  // Hex bytes map one-to-one to characters (latin1), so GS 0x1D stays GS.
  const input = opts.hex !== undefined ? Buffer.from(parseHexArg(opts.hex)).toString('latin1') : unescapeGs(text!);
  const result = parseGs1(input, now ? { now } : {});
  const out: Record<string, unknown> = { ais: result.ais };
  for (const key of FIELDS) if (result[key] !== undefined) out[key] = result[key];
  return out;
}

/** `stockgate decode gs1 <text>` / `stockgate decode gs1 --hex <bytes>`. */
export function registerDecodeGs1(parent: Command): void {
  parent
    .command('gs1')
    .description(
      'decode GS1 data (element string, "(01)..." form or Digital Link URI) to one JSON object; ' +
        'write the GS separator as a literal GS, \\x1D, \\u001d, <GS> or {GS}; a leading AIM id (]C1, ]d2, ]Q3) is allowed',
    )
    .argument('[text]', 'the scanned text')
    .option('--hex <bytes>', 'the scanned bytes as hex instead of text, e.g. "5D 43 31 30 31 ..."')
    .option('--now <date>', 'reference date (ISO) for the century of YYMMDD dates (default: today)')
    .action((text: string | undefined, opts: DecodeGs1Options) => {
      try {
        printJson(decodeGs1(text, opts));
      } catch (err) {
        failFromError(err);
      }
    });
}
