/**
 * HID-POS bar code scanner reports (HID usage page 0x8C "Bar Code Scanner", usage 2), reassembled
 * across several input reports. Offsets are as node-hid delivers them, report ID in byte 0:
 *
 *     Honeywell (and Access-IS, same layout):
 *      0      1     2..4        5 .. 60           61          62     63
 *     +----+-----+-----------+-----------------+------------+------+----------+
 *     | 02 | len | AIM ]xx   | data (56 bytes) | HON code ID| res. | b0: more |
 *     +----+-----+-----------+-----------------+------------+------+----------+
 *     len = data bytes in this report, AIM excluded.
 *
 *     Newland FM430 (and OEM engines built on it):
 *      0      1     2 .. 57           58..61    62             63
 *     +----+-----+-----------------+---------+--------------+----------+
 *     | 02 | len | data (56 bytes) | res.    | Newland code | b0: more |
 *     +----+-----+-----------------+---------+--------------+----------+
 *     An AIM id, when enabled on the scanner, is the start of the data.
 *
 * Sources: device-protocols.md "HID POS"; Access-IS LSR116/ATR110 manuals, appendix "HID reports"
 * (byte 63 bit 0 = data continued, worked two-report example); a Honeywell Voyager 1602g capture
 * (HenkVanAsselt/python_hon_usbhid README); the Newland FM430 report table (byte 62 = symbology);
 * USB-IF "HID Point of Sale Usage Tables" 1.02 (scanned data report, "decoded data continued").
 *
 * Reports are fixed-size (64 bytes by default). The assembler collects bytes into whole reports,
 * so a report split over several `push` calls decodes the same. HID delivers whole reports, so
 * alignment cannot drift; a report that is not a valid scanned-data report (another report ID, a
 * length over 56) is dropped whole and counted in `droppedFrames`.
 */
import { splitAim, type AimId } from './aim.js';
import { type FrameParser, newStats } from '../framing/parser.js';

/** Which vendor layout the reports follow. */
export type HidPosLayout = 'honeywell' | 'newland';

/** One complete scan. */
export interface HidPosScan {
  /** The decoded data, AIM id excluded, one character per byte (latin1, so GS 0x1D survives). */
  text: string;
  /** AIM id: bytes 2..4 (Honeywell) or the start of the data (Newland), when present. */
  aim?: AimId;
  /** Vendor symbology code character: HON code ID (byte 61) or Newland code (byte 62); absent when 0x00. */
  symbologyCode?: string;
  /** Symbology name for a Honeywell code ID we know. */
  symbology?: string;
  layout: HidPosLayout;
  /** How many reports the scan took. */
  reports: number;
}

/** Options of {@link HidPosAssembler}. */
export interface HidPosOptions {
  /** Vendor layout. Required: the two differ in where data and symbology sit. */
  layout: HidPosLayout;
  /** Report size in bytes, report ID included. Default 64. */
  reportLength?: number;
  /** Longest scan kept, in characters; a longer one is dropped (`droppedFrames`). Default 8192. */
  maxLength?: number;
}

/** Input report ID of the scanned-data report [HID POS Usage Tables 1.02]. */
export const HID_POS_REPORT_ID = 0x02;

/** Data bytes per report. */
const DATA_CAPACITY = 56;

/**
 * Honeywell code IDs (byte 61) for the symbologies a warehouse meets [Honeywell "Symbology Charts",
 * Code ID column; as used by NielsLeenheer/WebHidBarcodeScanner].
 */
export const HONEYWELL_CODE_IDS: Readonly<Record<string, string>> = {
  a: 'Codabar',
  b: 'Code 39',
  c: 'UPC-A',
  d: 'EAN-13',
  D: 'EAN-8',
  E: 'UPC-E',
  e: 'Interleaved 2 of 5',
  i: 'Code 93',
  I: 'GS1-128',
  j: 'Code 128',
  r: 'PDF417',
  s: 'QR Code',
  w: 'Data Matrix',
  x: 'MaxiCode',
  y: 'GS1 DataBar',
  '{': 'GS1 DataBar Limited',
  '}': 'GS1 DataBar Expanded',
  z: 'Aztec',
};

interface Layout {
  dataStart: number;
  symbologyAt: number;
  aimInReport: boolean;
}

const LAYOUTS: Record<HidPosLayout, Layout> = {
  honeywell: { dataStart: 5, symbologyAt: 61, aimInReport: true },
  newland: { dataStart: 2, symbologyAt: 62, aimInReport: false },
};

/** Byte 63, bit 0: more reports follow for this scan. */
const MORE_AT = 63;

/** Reassembles HID-POS scanned-data reports into scans. Implements FrameParser; never throws. */
export class HidPosAssembler implements FrameParser<HidPosScan> {
  readonly stats = newStats();
  private readonly layout: HidPosLayout;
  private readonly spec: Layout;
  private readonly reportLength: number;
  private readonly maxLength: number;
  private report: number[] = [];
  private pending: { text: string; aimId?: string; reports: number } | undefined;

  constructor(opts: HidPosOptions) {
    this.layout = opts.layout;
    this.spec = LAYOUTS[opts.layout];
    if (!this.spec) throw new TypeError(`HidPosAssembler: unknown layout '${String(opts.layout)}'`);
    // Byte 63 must exist: shorter reports cannot carry the continuation flag.
    this.reportLength = Math.max(opts.reportLength ?? 64, MORE_AT + 1);
    this.maxLength = opts.maxLength ?? 8192;
  }

  push(chunk: Uint8Array): HidPosScan[] {
    const out: HidPosScan[] = [];
    for (const b of chunk) {
      this.report.push(b);
      if (this.report.length === this.reportLength) {
        const r = this.report;
        this.report = [];
        this.onReport(r, out);
      }
    }
    return out;
  }

  reset(): void {
    this.report = [];
    if (this.pending) this.stats.droppedFrames++;
    this.pending = undefined;
  }

  private onReport(r: number[], out: HidPosScan[]): void {
    const len = r[1]!;
    if (r[0] !== HID_POS_REPORT_ID || len > DATA_CAPACITY) {
      this.stats.droppedFrames++;
      return;
    }
    const { dataStart, symbologyAt, aimInReport } = this.spec;
    const aimId = aimInReport && r[2] === 0x5d ? String.fromCharCode(r[2], r[3]!, r[4]!) : undefined;
    if (this.pending?.aimId && aimId && aimId !== this.pending.aimId) {
      // A continuation with another AIM id is a new scan: the end of the previous one was lost.
      this.stats.droppedFrames++;
      this.pending = undefined;
    }
    const p = (this.pending ??= { text: '', aimId, reports: 0 });
    p.text += String.fromCharCode(...r.slice(dataStart, dataStart + len));
    p.reports++;
    if (p.text.length > this.maxLength) {
      this.stats.droppedFrames++;
      this.pending = undefined;
      return;
    }
    if (r[MORE_AT]! & 0x01) return;
    this.pending = undefined;
    if (p.text === '') return; // no data at all (an idle or keep-alive report): nothing to emit
    out.push(this.finish(p, r[symbologyAt]!));
    this.stats.frames++;
  }

  private finish(p: { text: string; aimId?: string; reports: number }, code: number): HidPosScan {
    let text = p.text;
    let aim: AimId | undefined;
    if (p.aimId) aim = splitAim(p.aimId).aim;
    else {
      const s = splitAim(text);
      if (s.aim) {
        aim = s.aim;
        text = s.data;
      }
    }
    const scan: HidPosScan = { text, layout: this.layout, reports: p.reports };
    if (aim) scan.aim = aim;
    if (code !== 0) {
      scan.symbologyCode = String.fromCharCode(code);
      const name = this.layout === 'honeywell' ? HONEYWELL_CODE_IDS[scan.symbologyCode] : undefined;
      if (name) scan.symbology = name;
    }
    return scan;
  }
}
