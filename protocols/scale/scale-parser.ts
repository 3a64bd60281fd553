import type { FrameParser } from '../framing/parser.js';
import { newStats } from '../framing/parser.js';
import { LineFramer } from '../framing/line.js';
import type { ScaleFrame } from './scale-frame.js';

/**
 * A scale parser: the shared {@link FrameParser} contract plus `end()`, for callers that know the
 * input is over (the CLI, a replayed capture). Continuous streams cannot always tell that a frame
 * is complete until the next byte arrives (Toledo with checksum detection, an unterminated last
 * line); `end()` decides with what it has and returns those frames. Like `push`, it never throws.
 */
export interface ScaleParser extends FrameParser<ScaleFrame> {
  /** Input is over: return any frame still held back, then forget partial state. */
  end(): ScaleFrame[];
}

/** Options shared by the line-based scale parsers (MT-SICS, ASCII). */
export interface LineScaleParserOptions {
  /** Longest line kept, in bytes; longer lines are dropped whole. Default 256 (no scale line comes close). */
  maxLength?: number;
}

/**
 * Base of the line-based scale parsers: lines come from {@link LineFramer} (CR, LF or CR LF), each
 * line is decoded on its own by `parseLine`, so a garbled line can never spoil the next one.
 * A line `parseLine` rejects counts in `droppedFrames`; blank lines are ignored silently.
 */
export abstract class LineScaleParser implements ScaleParser {
  readonly stats = newStats();
  private readonly framer: LineFramer;
  private rejected = 0;

  constructor(opts: LineScaleParserOptions = {}) {
    this.framer = new LineFramer({ maxLength: opts.maxLength ?? 256 });
  }

  push(chunk: Uint8Array): ScaleFrame[] {
    const out: ScaleFrame[] = [];
    for (const line of this.framer.push(chunk)) this.take(line, out);
    this.sync();
    return out;
  }

  end(): ScaleFrame[] {
    // A CR closes an unterminated last line; a CR on an empty buffer yields nothing.
    const out = this.push(Uint8Array.of(0x0d));
    this.framer.reset();
    return out;
  }

  reset(): void {
    this.framer.reset();
  }

  /** Decode one line (terminator removed, latin1). Return undefined to drop it. May throw: treated as a drop. */
  protected abstract parseLine(line: string): ScaleFrame | undefined;

  private take(line: string, out: ScaleFrame[]): void {
    if (line.trim() === '') return;
    let frame: ScaleFrame | undefined;
    try {
      frame = this.parseLine(line);
    } catch {
      frame = undefined;
    }
    if (frame) {
      out.push(frame);
      this.stats.frames++;
    } else {
      this.rejected++;
    }
  }

  private sync(): void {
    this.stats.droppedBytes = this.framer.stats.droppedBytes;
    this.stats.droppedFrames = this.framer.stats.droppedFrames + this.rejected;
  }
}
