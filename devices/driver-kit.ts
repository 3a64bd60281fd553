import { LineFramer } from '../protocols/framing/line.js';
import type { FrameParser, ParserStats } from '../protocols/framing/parser.js';
import type { DeviceProfile, Driver, DriverCounters, Reading } from './driver.js';
import { RawTracker, type Tracked } from './raw-tracker.js';
import type { Transport } from './transport.js';

/**
 * What every driver repeats (issue 15), written once: the poll timer, the transport it writes to
 * while started, the counters, and push/flush/reset over a parser. A driver is then its profile
 * (declarative, in its folder) plus its parser wiring: how frames become readings and what it
 * sends on start or on each tick. Bases:
 * - `FramedDriver<F>`: binary frames through a `RawTracker` (each reading's `raw` is the hex of
 *   its bytes): scale-toledo, scale-xk3190, rfid-uhfreader18, rfid-m100;
 * - `LineDriver`: CR/LF lines through a `LineFramer` (`raw` is the line): scale-ascii,
 *   scale-mt-sics.
 * The scanners (one parser call, no timer) implement `Driver` directly with `countersOf`.
 */

/** One interval timer: `every` (re)starts it, `stop` clears it. A failed tick never throws. */
export class PollTimer {
  private timer: NodeJS.Timeout | undefined;

  every(ms: number, tick: () => unknown): void {
    this.stop();
    this.timer = setInterval(() => {
      try {
        const r = tick();
        // A write that fails (the line dropped) is retried by the next tick or the reconnect.
        if (r instanceof Promise) r.catch(() => undefined);
      } catch {
        // same
      }
    }, ms);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** Driver counters from a parser's stats, plus frames parsed but refused as readings. */
export function countersOf(stats: ParserStats, rejected = 0): DriverCounters {
  return { frames: stats.frames, droppedBytes: stats.droppedBytes, droppedFrames: stats.droppedFrames + rejected };
}

/** Start/stop/reset with the transport and the poll timer; the hooks are a driver's own part. */
abstract class DriverBase implements Driver {
  abstract readonly profile: DeviceProfile;
  protected readonly poller = new PollTimer();
  /** The transport while started (commands are written to it), undefined after `stop()`. */
  protected transport: Transport | undefined;
  /** Frames parsed but not turned into a reading (a unit we cannot convert, ...): counted as dropped. */
  protected rejected = 0;

  abstract push(bytes: Uint8Array): Reading[];
  abstract flush(): Reading[];
  abstract get counters(): DriverCounters;

  async start(transport: Transport): Promise<void> {
    this.transport = transport;
    this.poller.stop();
    await this.onStart(transport);
  }

  stop(): void {
    this.poller.stop();
    this.transport = undefined;
    this.onStop();
  }

  reset(): void {
    this.resetParser();
    this.onReset();
  }

  /** After the transport (re)opened: init commands, `this.poller.every(...)`. */
  protected async onStart(_transport: Transport): Promise<void> {}
  /** After the timer stopped and the transport was forgotten. */
  protected onStop(): void {}
  /** After the parser forgot its partial frame. */
  protected onReset(): void {}
  protected abstract resetParser(): void;
}

/** Binary frames through a `RawTracker`: `readings()` turns tracked frames into readings. */
export abstract class FramedDriver<F> extends DriverBase {
  protected readonly tracker: RawTracker<F>;

  /** `end` releases what the parser holds back at the end of input or on an idle line. */
  constructor(
    protected readonly parser: FrameParser<F>,
    private readonly end: () => F[] = () => [],
  ) {
    super();
    this.tracker = new RawTracker(parser);
  }

  get counters(): DriverCounters {
    return countersOf(this.parser.stats, this.rejected);
  }

  push(bytes: Uint8Array): Reading[] {
    return this.readings(this.tracker.push(bytes), Date.now());
  }

  flush(): Reading[] {
    return this.readings(this.tracker.finish(this.end()), Date.now());
  }

  protected resetParser(): void {
    this.tracker.reset();
  }

  protected abstract readings(tracked: Tracked<F>[], at: number): Reading[];
}

/** CR/LF lines through a `LineFramer`: `line()` handles one non-blank line. */
export abstract class LineDriver extends DriverBase {
  protected readonly framer = new LineFramer({ maxLength: 256 });
  /** Lines a parser recognised. */
  protected frames = 0;

  get counters(): DriverCounters {
    const s = this.framer.stats;
    return { frames: this.frames, droppedBytes: s.droppedBytes, droppedFrames: s.droppedFrames + this.rejected };
  }

  push(bytes: Uint8Array): Reading[] {
    const at = Date.now();
    const out: Reading[] = [];
    for (const line of this.framer.push(bytes)) if (line.trim() !== '') this.line(line, at, out);
    return out;
  }

  /** End of input (a replayed capture): an unterminated last line is taken as complete. */
  flush(): Reading[] {
    return this.push(Uint8Array.of(0x0d));
  }

  protected resetParser(): void {
    this.framer.reset();
  }

  protected abstract line(line: string, at: number, out: Reading[]): void;
}
