import type { Command } from 'commander';
import { countByWeight, type CountInput, type CountWarning } from '../../protocols/scale/count.js';
import { failFromError, failJson, printJson } from '../output.js';

/** Raw flag values of `stockgate count-by-weight` (commander gives strings). */
export interface CountByWeightFlags {
  sampleKg?: string;
  samplePieces?: string;
  netKg?: string;
  resolutionKg?: string;
  tareKg?: string;
  capacityKg?: string;
  pieceCv?: string;
}

/** What the command prints. */
export interface CountByWeightOutput {
  pieces: number;
  apwKg: number;
  uncertaintyPieces: number;
  warnings: CountWarning[];
}

/** Library field name -> the flag a user typed, so errors name the flag. */
const FLAG_OF: Record<keyof CountInput, string> = {
  sampleKg: '--sample-kg',
  samplePieces: '--sample-pieces',
  netKg: '--net-kg',
  resolutionKg: '--resolution-kg',
  tareKg: '--tare-kg',
  capacityKg: '--capacity-kg',
  pieceCv: '--piece-cv',
};

/** A coded error naming the flag at fault (`flag` is also a field of the JSON error). */
export class FlagError extends Error {
  readonly code = 'SG_ERR_BAD_FLAG';
  constructor(
    readonly flag: string,
    message: string,
  ) {
    super(message);
  }
}

/** A decimal number as typed: digits with an optional point and exponent, nothing else ('12kg', '', '0x10' are refused). */
function parseNumber(flag: string, raw: string | undefined, required: boolean): number | undefined {
  if (raw === undefined) {
    if (required) throw new FlagError(flag, `${flag} is required`);
    return undefined;
  }
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(raw.trim())) throw new FlagError(flag, `${flag}: '${raw}' is not a number`);
  return Number(raw);
}

/** The command's logic without process I/O. Throws {@link FlagError} naming the flag. */
export function countByWeightFromFlags(flags: CountByWeightFlags): CountByWeightOutput {
  const input: CountInput = {
    sampleKg: parseNumber('--sample-kg', flags.sampleKg, true)!,
    samplePieces: parseNumber('--sample-pieces', flags.samplePieces, true)!,
    netKg: parseNumber('--net-kg', flags.netKg, true)!,
  };
  const optional: Array<[keyof CountInput, string | undefined]> = [
    ['resolutionKg', flags.resolutionKg],
    ['tareKg', flags.tareKg],
    ['capacityKg', flags.capacityKg],
    ['pieceCv', flags.pieceCv],
  ];
  for (const [key, raw] of optional) {
    const v = parseNumber(FLAG_OF[key], raw, false);
    if (v !== undefined) (input as unknown as Record<string, number>)[key] = v;
  }
  try {
    const r = countByWeight(input);
    return { pieces: r.pieces, apwKg: r.apwKg, uncertaintyPieces: r.uncertaintyPieces, warnings: r.warnings };
  } catch (err) {
    // The library names its field first ("samplePieces must be ..."): report it under the flag.
    const message = (err as Error).message;
    const field = /^(\w+)/.exec(message)?.[1] as keyof CountInput | undefined;
    if (field && field in FLAG_OF) throw new FlagError(FLAG_OF[field], `${FLAG_OF[field]}: ${message.slice(field.length).trim()}`);
    throw err;
  }
}

/** `stockgate count-by-weight --sample-kg X --sample-pieces N --net-kg Y [...]`. */
export function registerCountByWeight(program: Command): void {
  program
    .command('count-by-weight')
    .description(
      'count pieces from weights: APW = sample/pieces, pieces = round(net/APW), with an uncertainty in pieces and warnings; ' +
        'prints {"pieces","apwKg","uncertaintyPieces","warnings"}; bad values exit 2 naming the flag',
    )
    .option('--sample-kg <kg>', 'weight of the counted sample (net, or gross with --tare-kg) (required)')
    .option('--sample-pieces <n>', 'pieces in the sample (integer >= 1; 10 at least, 50-100 better) (required)')
    .option('--net-kg <kg>', 'weight of the load to count (net, or gross with --tare-kg) (required)')
    .option('--resolution-kg <kg>', 'scale division d (adds the rounding term to the uncertainty)')
    .option('--tare-kg <kg>', 'container weight subtracted from both --sample-kg and --net-kg')
    .option('--capacity-kg <kg>', 'scale capacity: warn when the sample is below 0.1 % of it')
    .option('--piece-cv <cv>', 'piece-to-piece coefficient of variation (default 0.01 = 1 %)')
    .action((flags: CountByWeightFlags) => {
      try {
        printJson(countByWeightFromFlags(flags));
      } catch (err) {
        if (err instanceof FlagError) failJson(err.code, err.message, { flag: err.flag });
        failFromError(err);
      }
    });
}
