/**
 * Scanners on a serial line or USB-CDC (`/dev/ttyACM*`) send `[AIM id]data` + CR or CR LF
 * (device-protocols.md "USB-CDC / serial"). This parser frames those lines with {@link LineFramer}
 * (latin1, so the GS separator 0x1D survives) and classifies each with {@link classifyScan}.
 */
import { LineFramer, type LineFramerOptions } from '../framing/line.js';
import type { FrameParser, ParserStats } from '../framing/parser.js';
import { classifyScan, type ClassifiedScan } from './classify-scan.js';
import type { Gs1ParseOptions } from './gs1-result.js';

/** Options of {@link ScanLineParser}: line framing plus GS1 parsing options. */
export interface ScanLineParserOptions extends LineFramerOptions, Gs1ParseOptions {}

/** Byte stream of CR/LF-terminated scans -> classified scans. Never throws. */
export class ScanLineParser implements FrameParser<ClassifiedScan> {
  private readonly lines: LineFramer;
  private readonly gs1: Gs1ParseOptions;

  constructor(opts: ScanLineParserOptions = {}) {
    this.lines = new LineFramer(opts);
    this.gs1 = { now: opts.now, ambiguity: opts.ambiguity };
  }

  get stats(): ParserStats {
    return this.lines.stats;
  }

  push(chunk: Uint8Array): ClassifiedScan[] {
    return this.lines.push(chunk).map((line) => classifyScan(line, this.gs1));
  }

  reset(): void {
    this.lines.reset();
  }
}
