/**
 * The GS1 Application Identifier table: format, length, title and check rules of each AI.
 *
 * Formats and titles follow [GS1 GenSpecs 3.2, Figure 3.2-1 "GS1 Application Identifiers in
 * numerical order"] and the AI definitions of section 3; the notation is the GenSpecs' own
 * (`N14` = exactly 14 digits, `X..20` = up to 20 characters of CSET 82).
 * Whether an FNC1 separator must follow comes from the predefined-length table
 * [GS1 GenSpecs 7.8.5, Figure 7.8.5-2], keyed on the first two digits of the AI.
 */
import { ProtocolError } from '../errors.js';

/**
 * Character set of one component:
 * `N` digits; `X` GS1 AI encodable character set 82 [GenSpecs 7.11, Figure 7.11-1];
 * `Y` character set 39 [Figure 7.11-2]; `Z` character set 64, file-safe base64 [Figure 7.11-3].
 */
export type Gs1CharSet = 'N' | 'X' | 'Y' | 'Z';

/** Content rules applied to one component (a subset of the GS1 syntax "linters"). */
export type Gs1Rule =
  /** Last digit is a GS1 mod-10 check digit [GenSpecs 7.9.1]. */
  | 'csum'
  /** YYMMDD; DD = 00 allowed and means the last day of the month [GenSpecs 7.12]. */
  | 'yymmd0'
  /** YYMMDD; DD = 00 not allowed. */
  | 'yymmdd'
  /** YYMMDDHH. */
  | 'yymmddhh'
  /** HHMM. */
  | 'hhmm'
  /** MM or MMSS (the optional tail of AI 8008). */
  | 'mmoptss';

/** One component of an AI's data field, e.g. the `N13` and the optional `X..17` of AI 253. */
export interface Gs1Component {
  cset: Gs1CharSet;
  /** Minimum length in characters. */
  min: number;
  /** Maximum length in characters (equal to `min` for a fixed-length component). */
  max: number;
  /** The component may be absent (only ever the last ones). */
  optional: boolean;
  rule?: Gs1Rule;
}

/** Everything the parser needs to know about one AI. */
export interface Gs1AiSpec {
  /** The AI digits, e.g. `3102`. */
  ai: string;
  /** GS1 data title, e.g. `NET WEIGHT (kg)`. */
  title: string;
  /** Format in GenSpecs notation, e.g. `N13,csum [X..17]`. */
  format: string;
  components: Gs1Component[];
  /** Shortest valid data field, in characters. */
  minLength: number;
  /** Longest valid data field, in characters. */
  maxLength: number;
  /** True when the data field always has the same length. */
  fixed: boolean;
  /**
   * True when the AI is in the predefined-length table (first two digits), so no FNC1/GS follows
   * it [GenSpecs 7.8.5, Figure 7.8.5-2]. Every other element string must be followed by GS unless
   * it is the last one.
   */
  predefined: boolean;
  /** Implied decimal places (the `n` of 310n, 330n, 392n, ...), when the AI carries a measure. */
  decimals?: number;
  /** A GS1 Digital Link primary key (may start a Digital Link path) [GS1 Digital Link URI Syntax 1.2, primary keys]. */
  dlPrimaryKey: boolean;
}

/**
 * First two digits of the AIs whose data has a predefined length, so no separator is needed after
 * them [GS1 GenSpecs 7.8.5, Figure 7.8.5-2]. Note 41 covers 410-417 (N13), and that fixed-length AIs
 * outside this table (422, 7003, 8005, ...) still need a separator in principle.
 */
export const PREDEFINED_LENGTH_PREFIXES: ReadonlySet<string> = new Set([
  '00', '01', '02', '03', '04', '11', '12', '13', '14', '15', '16', '17', '18', '19', '20',
  '31', '32', '33', '34', '35', '36', '41',
]);

/** Digital Link primary keys [GS1 Digital Link URI Syntax 1.2, table of primary keys and key qualifiers]. */
const DL_PRIMARY_KEYS = new Set([
  '00', '01', '253', '255', '401', '402', '414', '415', '417', '8003', '8004', '8006', '8010', '8013', '8017',
  '8018',
]);

// [ai or range, format, title]. A range `3100-3105` repeats the row for each AI; `{n}` in the title is
// replaced by the last digit of the AI.
type Row = readonly [string, string, string];

const MEASURES: ReadonlyArray<readonly [string, string]> = [
  ['310', 'NET WEIGHT (kg)'], ['311', 'LENGTH (m)'], ['312', 'WIDTH (m)'], ['313', 'HEIGHT (m)'],
  ['314', 'AREA (m²)'], ['315', 'NET VOLUME (l)'], ['316', 'NET VOLUME (m³)'],
  ['320', 'NET WEIGHT (lb)'], ['321', 'LENGTH (in)'], ['322', 'LENGTH (ft)'], ['323', 'LENGTH (yd)'],
  ['324', 'WIDTH (in)'], ['325', 'WIDTH (ft)'], ['326', 'WIDTH (yd)'], ['327', 'HEIGHT (in)'],
  ['328', 'HEIGHT (ft)'], ['329', 'HEIGHT (yd)'],
  ['330', 'GROSS WEIGHT (kg)'], ['331', 'LENGTH (m), log'], ['332', 'WIDTH (m), log'],
  ['333', 'HEIGHT (m), log'], ['334', 'AREA (m²), log'], ['335', 'VOLUME (l), log'],
  ['336', 'VOLUME (m³), log'], ['337', 'KG PER m²'],
  ['340', 'GROSS WEIGHT (lb)'], ['341', 'LENGTH (in), log'], ['342', 'LENGTH (ft), log'],
  ['343', 'LENGTH (yd), log'], ['344', 'WIDTH (in), log'], ['345', 'WIDTH (ft), log'],
  ['346', 'WIDTH (yd), log'], ['347', 'HEIGHT (in), log'], ['348', 'HEIGHT (ft), log'],
  ['349', 'HEIGHT (yd), log'],
  ['350', 'AREA (in²)'], ['351', 'AREA (ft²)'], ['352', 'AREA (yd²)'], ['353', 'AREA (in²), log'],
  ['354', 'AREA (ft²), log'], ['355', 'AREA (yd²), log'], ['356', 'NET WEIGHT (troy oz)'],
  ['357', 'NET VOLUME (oz)'],
  ['360', 'NET VOLUME (qt)'], ['361', 'NET VOLUME (gal.)'], ['362', 'VOLUME (qt), log'],
  ['363', 'VOLUME (gal.), log'], ['364', 'VOLUME (in³)'], ['365', 'VOLUME (ft³)'], ['366', 'VOLUME (yd³)'],
  ['367', 'VOLUME (in³), log'], ['368', 'VOLUME (ft³), log'], ['369', 'VOLUME (yd³), log'],
];

const ROWS: readonly Row[] = [
  // Identification keys, their qualifiers and dates
  ['00', 'N18,csum', 'SSCC'],
  ['01', 'N14,csum', 'GTIN'],
  ['02', 'N14,csum', 'CONTENT'],
  ['10', 'X..20', 'BATCH/LOT'],
  ['11', 'N6,yymmd0', 'PROD DATE'],
  ['12', 'N6,yymmd0', 'DUE DATE'],
  ['13', 'N6,yymmd0', 'PACK DATE'],
  ['15', 'N6,yymmd0', 'BEST BEFORE or BEST BY'],
  ['16', 'N6,yymmd0', 'SELL BY'],
  ['17', 'N6,yymmd0', 'USE BY OR EXPIRY'],
  ['20', 'N2', 'VARIANT'],
  ['21', 'X..20', 'SERIAL'],
  ['22', 'X..20', 'CPV'],
  ['235', 'X..28', 'TPX'],
  ['240', 'X..30', 'ADDITIONAL ID'],
  ['241', 'X..30', 'CUST. PART No.'],
  ['242', 'N..6', 'MTO VARIANT'],
  ['243', 'X..20', 'PCN'],
  ['250', 'X..30', 'SECONDARY SERIAL'],
  ['251', 'X..30', 'REF. TO SOURCE'],
  ['253', 'N13,csum [X..17]', 'GDTI'],
  ['254', 'X..20', 'GLN EXTENSION COMPONENT'],
  ['255', 'N13,csum [N..12]', 'GCN'],
  ['30', 'N..8', 'VAR. COUNT'],
  // Trade and logistic measures: 6 digits, the last AI digit gives the decimal places.
  ...MEASURES.map(([p, t]): Row => [`${p}0-${p}5`, 'N6', t]),
  ['37', 'N..8', 'COUNT'],
  ['3900-3909', 'N..15', 'AMOUNT'],
  ['3910-3919', 'N3 N..15', 'AMOUNT'],
  ['3920-3929', 'N..15', 'PRICE'],
  ['3930-3939', 'N3 N..15', 'PRICE'],
  ['3940-3943', 'N4', 'PRCNT OFF'],
  ['3950-3955', 'N6', 'PRICE/UoM'],
  // References and locations
  ['400', 'X..30', 'ORDER NUMBER'],
  ['401', 'X..30', 'GINC'],
  ['402', 'N17,csum', 'GSIN'],
  ['403', 'X..30', 'ROUTE'],
  ['410', 'N13,csum', 'SHIP TO LOC'],
  ['411', 'N13,csum', 'BILL TO'],
  ['412', 'N13,csum', 'PURCHASE FROM'],
  ['413', 'N13,csum', 'SHIP FOR LOC'],
  ['414', 'N13,csum', 'LOC No.'],
  ['415', 'N13,csum', 'PAY TO'],
  ['416', 'N13,csum', 'PROD/SERV LOC'],
  ['417', 'N13,csum', 'PARTY'],
  ['420', 'X..20', 'SHIP TO POST'],
  ['421', 'N3 X..9', 'SHIP TO POST'],
  ['422', 'N3', 'ORIGIN'],
  ['423', 'N3 [N..12]', 'COUNTRY - INITIAL PROCESS'],
  ['424', 'N3', 'COUNTRY - PROCESS'],
  ['425', 'N3 [N..12]', 'COUNTRY - DISASSEMBLY'],
  ['426', 'N3', 'COUNTRY - FULL PROCESS'],
  ['427', 'X..3', 'ORIGIN SUBDIVISION'],
  ['4300', 'X..35', 'SHIP TO COMP'],
  ['4301', 'X..35', 'SHIP TO NAME'],
  ['4302', 'X..70', 'SHIP TO ADD1'],
  ['4303', 'X..70', 'SHIP TO ADD2'],
  ['4304', 'X..70', 'SHIP TO SUB'],
  ['4305', 'X..70', 'SHIP TO LOC'],
  ['4306', 'X..70', 'SHIP TO REG'],
  ['4307', 'X2', 'SHIP TO COUNTRY'],
  ['4308', 'X..30', 'SHIP TO PHONE'],
  ['4309', 'N10 N10', 'SHIP TO GEO'],
  ['4310', 'X..35', 'RTN TO COMP'],
  ['4311', 'X..35', 'RTN TO NAME'],
  ['4312', 'X..70', 'RTN TO ADD1'],
  ['4313', 'X..70', 'RTN TO ADD2'],
  ['4314', 'X..70', 'RTN TO SUB'],
  ['4315', 'X..70', 'RTN TO LOC'],
  ['4316', 'X..70', 'RTN TO REG'],
  ['4317', 'X2', 'RTN TO COUNTRY'],
  ['4318', 'X..20', 'RTN TO POST'],
  ['4319', 'X..30', 'RTN TO PHONE'],
  ['4320', 'X..35', 'SRV DESCRIPTION'],
  ['4321', 'N1', 'DANGEROUS GOODS'],
  ['4322', 'N1', 'AUTH TO LEAVE'],
  ['4323', 'N1', 'SIG REQUIRED'],
  ['4324', 'N6,yymmd0 N4,hhmm', 'NOT BEF DEL DT'],
  ['4325', 'N6,yymmd0 N4,hhmm', 'NOT AFT DEL DT'],
  ['4326', 'N6,yymmdd', 'REL DATE'],
  ['4330', 'N6 [X1]', 'MAX TEMP F.'],
  ['4331', 'N6 [X1]', 'MAX TEMP C.'],
  ['4332', 'N6 [X1]', 'MIN TEMP F.'],
  ['4333', 'N6 [X1]', 'MIN TEMP C.'],
  // Additional product identification and traceability
  ['7001', 'N13', 'NSN'],
  ['7002', 'X..30', 'MEAT CUT'],
  ['7003', 'N6,yymmdd N4,hhmm', 'EXPIRY TIME'],
  ['7004', 'N..4', 'ACTIVE POTENCY'],
  ['7005', 'X..12', 'CATCH AREA'],
  ['7006', 'N6,yymmdd', 'FIRST FREEZE DATE'],
  ['7007', 'N6,yymmdd [N6,yymmdd]', 'HARVEST DATE'],
  ['7008', 'X..3', 'AQUATIC SPECIES'],
  ['7009', 'X..10', 'FISHING GEAR TYPE'],
  ['7010', 'X..2', 'PROD METHOD'],
  ['7011', 'N6,yymmdd [N4,hhmm]', 'TEST BY DATE'],
  ['7020', 'X..20', 'REFURB LOT'],
  ['7021', 'X..20', 'FUNC STAT'],
  ['7022', 'X..20', 'REV STAT'],
  ['7023', 'X..30', 'GIAI - ASSEMBLY'],
  ['7030-7039', 'N3 X..27', 'PROCESSOR # {n}'],
  ['7040', 'N1 X1 X1 X1', 'UIC+EXT'],
  ['710', 'X..20', 'NHRN PZN'],
  ['711', 'X..20', 'NHRN CIP'],
  ['712', 'X..20', 'NHRN CN'],
  ['713', 'X..20', 'NHRN DRN'],
  ['714', 'X..20', 'NHRN AIM'],
  ['715', 'X..20', 'NHRN NDC'],
  ...Array.from({ length: 10 }, (_, i): Row => [`723${i}`, 'X2 X..28', `CERT # ${i + 1}`]),
  ['7240', 'X..20', 'PROTOCOL'],
  ['7241', 'N2', 'AIDC MEDIA TYPE'],
  ['7242', 'X..25', 'VCN'],
  // Assets, services, coupons, internal
  ['8001', 'N4 N5 N3 N1 N1', 'DIMENSIONS'],
  ['8002', 'X..20', 'CMT No.'],
  ['8003', 'N1 N13,csum [X..16]', 'GRAI'],
  ['8004', 'X..30', 'GIAI'],
  ['8005', 'N6', 'PRICE PER UNIT'],
  ['8006', 'N14,csum N4', 'ITIP'],
  ['8007', 'X..34', 'IBAN'],
  ['8008', 'N8,yymmddhh [N..4,mmoptss]', 'PROD TIME'],
  ['8009', 'X..50', 'OPTSEN'],
  ['8010', 'Y..30', 'CPID'],
  ['8011', 'N..12', 'CPID SERIAL'],
  ['8012', 'X..20', 'VERSION'],
  ['8013', 'X..25', 'GMN'],
  ['8017', 'N18,csum', 'GSRN - PROVIDER'],
  ['8018', 'N18,csum', 'GSRN - RECIPIENT'],
  ['8019', 'N..10', 'SRIN'],
  ['8020', 'X..25', 'REF No.'],
  ['8026', 'N14,csum N4', 'ITIP CONTENT'],
  ['8030', 'Z..90', 'DIGSIG'],
  ['8110', 'X..70', 'COUPON CODE'],
  ['8111', 'N4', 'POINTS'],
  ['8112', 'X..70', 'PAPERLESS COUPON'],
  ['8200', 'X..70', 'PRODUCT URL'],
  ['90', 'X..30', 'INTERNAL'],
  ['91-99', 'X..90', 'INTERNAL'],
];

const RULES: ReadonlySet<string> = new Set(['csum', 'yymmd0', 'yymmdd', 'yymmddhh', 'hhmm', 'mmoptss']);

/** Parse a GenSpecs-style format such as `N13,csum [X..17]`. Exported for tests. */
export function parseFormat(format: string): Gs1Component[] {
  return format.split(' ').map((part) => {
    const optional = part.startsWith('[');
    const body = optional ? part.slice(1, -1) : part;
    const m = /^([NXYZ])(\.\.)?(\d+)(?:,(\w+))?$/.exec(body);
    if (!m) throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `bad AI format component '${part}'`);
    const max = Number(m[3]);
    const comp: Gs1Component = { cset: m[1] as Gs1CharSet, min: m[2] ? 1 : max, max, optional };
    if (m[4]) {
      if (!RULES.has(m[4])) throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `unknown AI rule '${m[4]}'`);
      comp.rule = m[4] as Gs1Rule;
    }
    return comp;
  });
}

function makeSpec(ai: string, format: string, title: string): Gs1AiSpec {
  const components = parseFormat(format);
  const minLength = components.reduce((n, c) => n + (c.optional ? 0 : c.min), 0);
  const maxLength = components.reduce((n, c) => n + c.max, 0);
  const spec: Gs1AiSpec = {
    ai,
    title: title.replace('{n}', ai.slice(-1)),
    format,
    components,
    minLength,
    maxLength,
    fixed: minLength === maxLength,
    predefined: PREDEFINED_LENGTH_PREFIXES.has(ai.slice(0, 2)),
    dlPrimaryKey: DL_PRIMARY_KEYS.has(ai),
  };
  // The fourth digit of 31nn-36nn and 39nn is the number of implied decimals [GenSpecs 3.2, AIs 310n-369n, 390n-395n].
  if (ai.length === 4 && /^3[1-69]/.test(ai)) spec.decimals = Number(ai[3]);
  return spec;
}

function buildTable(): Map<string, Gs1AiSpec> {
  const table = new Map<string, Gs1AiSpec>();
  for (const [key, format, title] of ROWS) {
    const range = /^(\d+)-(\d+)$/.exec(key);
    if (!range) {
      table.set(key, makeSpec(key, format, title));
      continue;
    }
    const width = range[1]!.length;
    for (let n = Number(range[1]); n <= Number(range[2]); n++) {
      const ai = String(n).padStart(width, '0');
      table.set(ai, makeSpec(ai, format, title));
    }
  }
  return table;
}

/** Every AI we know, keyed by its digits. */
export const GS1_AI_TABLE: ReadonlyMap<string, Gs1AiSpec> = buildTable();

/**
 * The AI that starts at `pos` in `text`, if any. AIs are prefix-free (no AI is the start of another,
 * [GenSpecs 3.2]; checked by a test), so trying 2, 3 then 4 digits finds at most one.
 */
export function lookupAi(text: string, pos = 0): Gs1AiSpec | undefined {
  for (let len = 2; len <= 4; len++) {
    const spec = GS1_AI_TABLE.get(text.slice(pos, pos + len));
    if (spec) return spec;
  }
  return undefined;
}
