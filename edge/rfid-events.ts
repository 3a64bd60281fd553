import type { TagReading } from '../devices/driver.js';

/** Options of {@link TagTracker}. */
export interface TagTrackerOptions {
  /** `zone`: arrivals and departures; `portal`: one event per pass with its direction. Default `zone`. */
  role?: 'zone' | 'portal';
  /** Reads of one EPC closer together than this are one sighting (portal: one pass). Default 2000 ms. */
  readWindowMs?: number;
  /** Zone: a tag unseen for this long has departed. Default 10000 ms, at least `readWindowMs`. */
  departureMs?: number;
  /** Portal: the antenna on the outside of the doorway (1-based). */
  outsideAntenna?: number;
  /** Portal: the antenna on the inside. */
  insideAntenna?: number;
}

export type PassDirection = 'in' | 'out' | 'unknown';

/** What a stream of tag reads means. `raw` is the frame of the read the event is anchored on. */
export type TagEvent =
  | { type: 'arrived'; epc: string; at: number; antenna?: number; rssi?: number; raw: string }
  | { type: 'departed'; epc: string; at: number; firstAt: number; reads: number; raw: string }
  | {
      type: 'passed';
      epc: string;
      /** Time of the last read of the pass. */
      at: number;
      firstAt: number;
      direction: PassDirection;
      /** Antennas in the order they first saw the tag. */
      antennas: number[];
      reads: number;
      raw: string;
    };

interface Sighting {
  firstAt: number;
  lastAt: number;
  reads: number;
  firstAntenna?: number;
  lastAntenna?: number;
  antennas: number[];
  raw: string;
}

/**
 * Turns raw tag reads (a reader reports a tag in range many times a second) into events, per
 * reader. Pure: the clock is the reads' own `at` and the `now` passed to `tick`, so it is unit
 * tested with synthetic reads.
 *
 * - **zone** (dock gate, shelf): the first read of an EPC that is not present is `arrived`; more
 *   reads keep it present; unseen for `departureMs` it is `departed`. 50 reads in a window are
 *   one arrival.
 * - **portal** (two antennas across a doorway): a pass is all reads of an EPC with gaps shorter
 *   than `readWindowMs`; when it ends (`readWindowMs` of silence) it is `passed`, with the
 *   direction from the antenna of the first read to the antenna of the last: outside -> inside
 *   is `in`, inside -> outside is `out`, anything else (one antenna, no antenna ids) `unknown`.
 */
export class TagTracker {
  readonly role: 'zone' | 'portal';
  readonly readWindowMs: number;
  readonly departureMs: number;
  private readonly outside: number | undefined;
  private readonly inside: number | undefined;
  private readonly tags = new Map<string, Sighting>();
  /** Reads seen and events emitted, for telemetry. */
  readonly stats = { reads: 0, events: 0 };

  constructor(opts: TagTrackerOptions = {}) {
    this.role = opts.role ?? 'zone';
    this.readWindowMs = opts.readWindowMs ?? 2000;
    this.departureMs = Math.max(opts.departureMs ?? 10_000, this.readWindowMs);
    this.outside = opts.outsideAntenna;
    this.inside = opts.insideAntenna;
    if (this.role === 'portal' && (this.outside === undefined || this.inside === undefined || this.outside === this.inside)) {
      throw new TypeError('TagTracker: a portal needs two different antennas (outsideAntenna, insideAntenna)');
    }
  }

  /** Tags currently present (zone) or in a pass (portal). */
  get present(): number {
    return this.tags.size;
  }

  /** One read; returns the events it completes (an earlier sighting that ended first, an arrival). */
  push(r: Pick<TagReading, 'epc' | 'antenna' | 'rssi' | 'raw' | 'at'>): TagEvent[] {
    this.stats.reads++;
    const out: TagEvent[] = [];
    let s = this.tags.get(r.epc);
    // A read after the sighting's end: settle the old one first, as tick() would have.
    if (s && r.at - s.lastAt >= this.endAfter()) {
      out.push(this.end(r.epc, s));
      s = undefined;
    }
    if (!s) {
      s = { firstAt: r.at, lastAt: r.at, reads: 0, antennas: [], raw: r.raw };
      if (r.antenna !== undefined) s.firstAntenna = r.antenna;
      this.tags.set(r.epc, s);
      if (this.role === 'zone') {
        const ev: TagEvent = { type: 'arrived', epc: r.epc, at: r.at, raw: r.raw };
        if (r.antenna !== undefined) ev.antenna = r.antenna;
        if (r.rssi !== undefined) ev.rssi = r.rssi;
        out.push(ev);
      }
    }
    s.reads++;
    if (r.at > s.lastAt) s.lastAt = r.at;
    if (r.antenna !== undefined) {
      s.lastAntenna = r.antenna;
      if (!s.antennas.includes(r.antenna)) s.antennas.push(r.antenna);
    }
    this.stats.events += out.length;
    return out;
  }

  /** Sightings that ended by `now` (departures, finished passes), oldest first. */
  tick(now: number): TagEvent[] {
    const out: TagEvent[] = [];
    const limit = this.endAfter();
    for (const [epc, s] of this.tags) if (now - s.lastAt >= limit) out.push(this.end(epc, s));
    out.sort((a, b) => a.at - b.at);
    this.stats.events += out.length;
    return out;
  }

  /** When the next sighting may end (for a timer), or undefined with nothing tracked. */
  nextDeadline(): number | undefined {
    let min: number | undefined;
    for (const s of this.tags.values()) if (min === undefined || s.lastAt < min) min = s.lastAt;
    return min === undefined ? undefined : min + this.endAfter();
  }

  private endAfter(): number {
    return this.role === 'portal' ? this.readWindowMs : this.departureMs;
  }

  private end(epc: string, s: Sighting): TagEvent {
    this.tags.delete(epc);
    if (this.role === 'zone') return { type: 'departed', epc, at: s.lastAt, firstAt: s.firstAt, reads: s.reads, raw: s.raw };
    let direction: PassDirection = 'unknown';
    if (s.firstAntenna === this.outside && s.lastAntenna === this.inside) direction = 'in';
    else if (s.firstAntenna === this.inside && s.lastAntenna === this.outside) direction = 'out';
    return { type: 'passed', epc, at: s.lastAt, firstAt: s.firstAt, direction, antennas: s.antennas, reads: s.reads, raw: s.raw };
  }
}
