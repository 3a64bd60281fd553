/*
 * Why one file (over 400 lines): it is the edge's functional core: pure functions from a scan,
 * weight or tag to movements and operator feedback for every workflow (dock, issue, count, weigh
 * station, RFID portal); they share the session state types and are tested together
 * (tests/edge/workflows.test.ts).
 */
import type { Reading, ScanReading, TagReading, WeightReading } from '../devices/driver.js';
import type { RfidReaderSettings, WeighStation as StationSettings } from '../protocols/mqtt/index.js';
import { decodeEpc } from '../protocols/rfid/epc.js';
import type { CountWarning } from '../protocols/scale/index.js';
import { identityOf, inStockAfter, type IdentityLookup } from './identities.js';
import type { ItemLookup } from './item-cache.js';
import type { MovementDraft } from './outbox/outbox-store.js';
import { TagTracker, type TagEvent } from './rfid-events.js';
import { ScanSession, applyContext, type ContextField, type ExpiredBindings, type SessionContext } from './scan-session.js';
import { tallyLabel, type TallyEntry, type TallyStore } from './count-tally.js';
import { WeighStation, type StationEvent } from './weigh-station.js';

/** A configured device as the workflows see it: its name, driver and what it reads. */
export interface WorkflowDevice {
  name: string;
  driver: string;
  reads: 'scan' | 'weight' | 'tag';
}

/** The settings the workflows run on (local config merged with the remote one). */
export interface WorkflowSettings {
  mode: SessionContext['mode'];
  location: string;
  uom: string;
  issueRequires: readonly ContextField[];
  unknownItems: 'accept' | 'reject';
  stations: readonly StationSettings[];
  rfid: readonly RfidReaderSettings[];
  /** Operator, crew and project bindings expire after this many idle minutes; 0 = never. */
  sessionIdleMin: number;
}

/** What a reading means for the agent, which does the I/O (outbox, device feedback, log, status). */
export type WorkflowEffect =
  | {
      type: 'movement';
      device: string;
      draft: MovementDraft;
      /** Serialised identity of the unit (`epc:...`, `gtin+serial`). */
      identity?: string;
      /** A receive/return of an identity already in stock here: still sent (the cloud records it as DUPLICATE_IDENTITY). */
      duplicate?: boolean;
      /** Devices to give an `ok` beep once committed (stations, readers; a scanner beeps by itself). */
      okFeedback: string[];
      /** Extra log fields (weighing details, RFID event). */
      info?: Record<string, unknown>;
      warnings?: CountWarning[];
    }
  | { type: 'control'; device: string; code: string; context: SessionContext; say?: string }
  /** Count mode: a scan (or placement, or tag) added to the open count. `ok` feedback on `feedback` devices; no movement yet. */
  | { type: 'tallied'; device: string; label: string; total: number; uom: string; scans: number; qty: number; raw: string; feedback: string[] }
  /** A local validation failure: error feedback on `feedback` devices, log, status. */
  | { type: 'refused'; device: string; code: string; message: string; raw: string; feedback: string[] }
  /** Worth the operator's and maintenance's attention, no movement refused: log, status (and an `error` beep on `feedback` devices). */
  | { type: 'warning'; device: string; code: string; message: string; data?: Record<string, unknown>; feedback?: string[] }
  /** Informational: log only. */
  | { type: 'event'; device: string; msg: string; data: Record<string, unknown> };

export class WorkflowConfigError extends Error {
  readonly code = 'SG_ERR_CONFIG';
}

const DEFAULT_SESSION = '';

interface Station {
  settings: StationSettings | undefined;
  station: WeighStation;
  scanner?: string;
}

interface Reader {
  settings: RfidReaderSettings | undefined;
  tracker: TagTracker;
}

/**
 * The edge's workflows, pure: readings in, effects out. The agent owns the devices, outbox and
 * feedback; this owns the meaning.
 *
 * - **Scanners** (receiving dock, issue counter): one scan session per scanner (`MODE:`, `QTY:`,
 *   `OP:`, `CREW:`, `PRJ:`, `stockgate:project/...`); an item scan is a movement with that
 *   context; GS1 labels map to skus through the item cache.
 * - **Weigh stations** (`stations: [{scanner, scale}]`): the scanner's item scans arm the station
 *   instead of moving stock; the scale's stable placement is the movement (`weigh-station.ts`).
 *   `SAMPLE:n` at the station's scanner samples a piece weight.
 * - **RFID readers** (`rfid: [...]`, `rfid-events.ts`): zone arrivals/departures and portal passes
 *   become movements of one unit per EPC; an SGTIN maps to its GTIN and, through the item cache,
 *   its sku (the GTIN-14 is the sku when no item maps it).
 * - **Identities**: a receive of a serialised unit already in stock here is flagged `duplicate`
 *   (the operator is told) and still sent: the cloud records it in its exception queue.
 */
export class Workflows {
  private readonly devices = new Map<string, WorkflowDevice>();
  private readonly sessions = new Map<string, ScanSession>();
  private stations = new Map<string, Station>();
  private stationByScanner = new Map<string, Station>();
  private readers = new Map<string, Reader>();
  private settings!: WorkflowSettings;
  /** Last status reading per device, until a normal reading arrives. */
  private readonly deviceStatus = new Map<string, string>();
  /** Identity states decided but not yet committed (same group commit). */
  private readonly pending = new Map<string, boolean>();
  /** Counts ended but whose movements are not committed yet: session -> its lines before the end. */
  private readonly endedTallies = new Map<string, TallyEntry[]>();
  /** Effects made outside `handle`/`tick` (a remote config leaving count mode ends counts); see `takeDeferred`. */
  private deferred: WorkflowEffect[] = [];

  constructor(
    devices: readonly WorkflowDevice[],
    settings: WorkflowSettings,
    private readonly items: ItemLookup,
    private readonly identities: IdentityLookup,
    private readonly tallies?: TallyStore,
  ) {
    for (const d of devices) this.devices.set(d.name, d);
    this.configure(settings);
  }

  /**
   * At start, after the settings (local and stored remote) are applied: open counts kept in the
   * tally store come back, each session in count mode with its tally, so a restart mid-count
   * loses nothing. A count of a scanner no longer configured stays in the store, untouched.
   */
  restoreTallies(): WorkflowEffect[] {
    const out: WorkflowEffect[] = [];
    for (const [name, entries] of this.tallies?.load() ?? []) {
      const session = this.sessions.get(name);
      if (!session || entries.length === 0) continue;
      session.tally.restore(entries);
      session.context.mode = 'count';
      out.push({ type: 'event', device: name || 'edge', msg: 'open count restored', data: { session: name, lines: entries.map((e) => ({ line: tallyLabel(e.draft), qty: e.qty, uom: e.draft.uom, scans: e.scans })) } });
    }
    return out;
  }

  /**
   * Check settings against the devices (a station's scanner must read scans and its scale
   * weights, an rfid entry must name a tag reader); throws WorkflowConfigError naming the field.
   */
  validate(s: WorkflowSettings): void {
    const need = (name: string, reads: WorkflowDevice['reads'], field: string) => {
      const d = this.devices.get(name);
      if (!d) throw new WorkflowConfigError(`${field}: no device '${name}' (devices: ${[...this.devices.keys()].join(', ') || 'none'})`);
      if (d.reads !== reads) throw new WorkflowConfigError(`${field}: device '${name}' (${d.driver}) reads ${d.reads}, not ${reads}`);
    };
    s.stations.forEach((st, i) => {
      need(st.scanner, 'scan', `stations.${i}.scanner`);
      need(st.scale, 'weight', `stations.${i}.scale`);
    });
    s.rfid.forEach((r, i) => {
      need(r.reader, 'tag', `rfid.${i}.reader`);
      if (r.scanner) need(r.scanner, 'scan', `rfid.${i}.scanner`);
      if (r.role === 'portal' && (r.outsideAntenna === undefined || r.insideAntenna === undefined)) {
        throw new WorkflowConfigError(`rfid.${i}: a portal needs outsideAntenna and insideAntenna`);
      }
    });
  }

  /**
   * Apply settings (at start and on each remote config). Validated first, built aside, then
   * swapped in, so a failure changes nothing. Sessions keep their context; a changed default
   * mode/location/uom is set on every session. Stations and readers whose settings did not
   * change keep their state (armed item, sampled APWs, tags present).
   */
  configure(s: WorkflowSettings): void {
    this.validate(s);
    const prev = this.settings;
    const stations = new Map<string, Station>();
    const byScanner = new Map<string, Station>();
    for (const st of s.stations) {
      const old = this.stations.get(st.scale);
      const same = old && JSON.stringify(old.settings) === JSON.stringify(st);
      const entry: Station = same ? old : { settings: st, station: new WeighStation(stationOptions(st)), scanner: st.scanner };
      stations.set(st.scale, entry);
      byScanner.set(st.scanner, entry);
    }
    // Scales without a station are still monitored (stability, zero drift).
    for (const d of this.devices.values()) {
      if (d.reads !== 'weight' || stations.has(d.name)) continue;
      const old = this.stations.get(d.name);
      stations.set(d.name, old && !old.settings ? old : { settings: undefined, station: new WeighStation({ name: d.name, monitorOnly: true }) });
    }
    const readers = new Map<string, Reader>();
    for (const d of this.devices.values()) {
      if (d.reads !== 'tag') continue;
      const r = s.rfid.find((x) => x.reader === d.name);
      const old = this.readers.get(d.name);
      if (old && JSON.stringify(old.settings) === JSON.stringify(r)) {
        readers.set(d.name, old);
        continue;
      }
      let tracker: TagTracker;
      try {
        tracker = new TagTracker(r ?? {});
      } catch (err) {
        throw new WorkflowConfigError(`rfid '${d.name}': ${(err as Error).message}`);
      }
      readers.set(d.name, { settings: r, tracker });
    }
    this.stations = stations;
    this.stationByScanner = byScanner;
    this.readers = readers;
    this.settings = s;
    const rules = { items: this.items, issueRequires: s.issueRequires, unknownItems: s.unknownItems, idleMs: s.sessionIdleMin * 60_000 };
    const names = [DEFAULT_SESSION, ...[...this.devices.values()].filter((d) => d.reads === 'scan').map((d) => d.name)];
    for (const n of names) {
      let session = this.sessions.get(n);
      if (!session) {
        session = new ScanSession({ mode: s.mode, location: s.location, uom: s.uom }, rules);
        this.sessions.set(n, session);
        continue;
      }
      session.setRules(rules);
      if (prev && prev.mode !== s.mode) {
        // A remote config taking a session out of count mode ends its count, as a MODE: scan does.
        if (session.context.mode === 'count' && s.mode !== 'count' && session.tally.size > 0) {
          const ended = session.tally.end(Date.now(), 'remote config: mode ' + s.mode);
          this.endedTallies.set(n, [...(this.endedTallies.get(n) ?? []), ...session.tally.takeEnded()]);
          for (const draft of ended) this.deferred.push(this.movement(n || 'edge', draft, []));
        }
        session.context.mode = s.mode;
      }
      if (prev && prev.location !== s.location) session.context.location = s.location;
      if (prev && prev.uom !== s.uom) session.context.uom = s.uom;
    }
  }

  /** The session of a scanner (or the edge's default session). */
  session(scanner?: string): ScanSession {
    return this.sessions.get(this.sessionName(scanner))!;
  }

  private sessionName(scanner?: string): string {
    return scanner !== undefined && this.sessions.has(scanner) ? scanner : DEFAULT_SESSION;
  }

  /** Effects made outside `handle`/`tick` (start-up restore, a remote config ending a count): the agent handles them after `configure`. */
  takeDeferred(): WorkflowEffect[] {
    const out = this.deferred;
    this.deferred = [];
    return out;
  }

  handle(device: string, r: Reading): WorkflowEffect[] {
    const d = this.devices.get(device) ?? { name: device, driver: 'unknown', reads: r.kind === 'status' ? 'scan' : r.kind };
    if (r.kind !== 'status') this.deviceStatus.delete(device);
    switch (r.kind) {
      case 'scan':
        return this.scan(d, r);
      case 'weight':
        return this.weight(d, r);
      case 'tag':
        return this.tag(d, r);
      case 'status':
        // A scale in overload repeats it with every frame: warn when the status changes.
        if (this.deviceStatus.get(device) === r.status) return [];
        this.deviceStatus.set(device, r.status);
        return [{ type: 'warning', device, code: 'SG_DEVICE_STATUS', message: `${device}: ${r.status}`, data: { status: r.status, raw: r.raw } }];
    }
  }

  /** Time-driven events (RFID departures and finished portal passes, idle session expiry). */
  tick(now: number): WorkflowEffect[] {
    const out: WorkflowEffect[] = [];
    for (const [name, reader] of this.readers) {
      for (const ev of reader.tracker.tick(now)) out.push(...this.tagEvent(this.devices.get(name)!, reader, ev));
    }
    for (const [name, session] of this.sessions) {
      const gone = session.expireIdle(now);
      if (gone) out.push(this.expired(name, gone));
    }
    return out;
  }

  /** Earliest time `tick` has something to do, or undefined. */
  nextDeadline(): number | undefined {
    let min: number | undefined;
    const deadlines = [...[...this.readers.values()].map((r) => r.tracker.nextDeadline()), ...[...this.sessions.values()].map((s) => s.idleDeadline())];
    for (const d of deadlines) if (d !== undefined && (min === undefined || d < min)) min = d;
    return min;
  }

  /**
   * The movements handed out since the last call were committed (`true`) or refused (`false`):
   * forget pending identity states; persist the counts that ended, or (refused) reopen them so
   * the operator can end them again.
   */
  settle(committed = true): void {
    this.pending.clear();
    for (const [name, before] of this.endedTallies) {
      const session = this.sessions.get(name);
      if (!session) continue;
      if (!committed) session.tally.restore(before);
      this.tallies?.replace(name, session.tally.entries());
    }
    this.endedTallies.clear();
  }

  /** Per-scale and per-reader numbers for telemetry and status. */
  health(): { scales: Array<{ device: string; station?: string; state: string; zeroDriftKg?: number; weightKg?: number; stable: boolean; armed?: string }>; readers: Array<{ device: string; role: string; present: number; reads: number; events: number }> } {
    const scales = [...this.stations.entries()].map(([device, s]) => {
      const h: ReturnType<Workflows['health']>['scales'][number] = { device, state: s.station.currentState, stable: s.station.lastStable };
      if (s.settings) h.station = s.station.name;
      if (s.station.zeroDriftKg !== undefined) h.zeroDriftKg = s.station.zeroDriftKg;
      if (s.station.lastWeightKg !== undefined) h.weightKg = s.station.lastWeightKg;
      if (s.station.armedItem) h.armed = s.station.armedItem.key;
      return h;
    });
    const readers = [...this.readers.entries()].map(([device, r]) => ({
      device,
      role: r.tracker.role,
      present: r.tracker.present,
      reads: r.tracker.stats.reads,
      events: r.tracker.stats.events,
    }));
    return { scales, readers };
  }

  // ---- scanners -------------------------------------------------------------------------------

  private scan(d: WorkflowDevice, r: ScanReading): WorkflowEffect[] {
    const station = this.stationByScanner.get(d.name);
    const sample = /^SAMPLE:(.*)$/i.exec(r.data.trim());
    if (sample) {
      const refuse = (code: string, message: string): WorkflowEffect[] => [
        { type: 'refused', device: d.name, code, message, raw: r.raw, feedback: [d.name] },
      ];
      if (!station) return refuse('SG_ERR_SCAN_CONTROL', 'SAMPLE: this scanner is not at a weigh station');
      const n = Number(sample[1]!.trim());
      if (!/^\d+$/.test(sample[1]!.trim()) || !(n >= 1) || n > 100_000) return refuse('SG_ERR_SCAN_CONTROL', `SAMPLE: '${sample[1]!.trim()}' is not a piece count 1-100000`);
      const evs = station.station.sample(n);
      if (evs.length) return this.stationEffects(station, d.name, evs, r.raw);
      return [{ type: 'event', device: d.name, msg: 'weigh station sampling', data: { station: station.station.name, pieces: n, item: station.station.armedItem?.key } }];
    }
    const name = this.sessionName(d.name);
    const session = this.sessions.get(name)!;
    const effects: WorkflowEffect[] = [];
    const gone = session.expireIdle(r.at);
    if (gone) effects.push(this.expired(name, gone));
    const out = session.handle(r, { id: d.name, type: d.driver });
    if (out.type === 'control') {
      effects.push({ type: 'control', device: d.name, code: out.code, context: out.context, ...(out.say ? { say: out.say } : {}) });
      if (out.ended) {
        this.endedTallies.set(name, [...(this.endedTallies.get(name) ?? []), ...session.tally.takeEnded()]);
        for (const draft of out.ended) effects.push({ ...this.movement(d.name, draft, [d.name]), info: { count: 'ended', line: tallyLabel(draft) } });
      }
      if (out.cancelled !== undefined) {
        this.tallies?.replace(name, []);
        const dropped = session.tally.takeEnded();
        effects.push({ type: 'warning', device: d.name, code: 'SG_WARN_COUNT_CANCELLED', message: `count cancelled: ${out.cancelled} line(s) dropped, nothing sent`, data: { lines: dropped.map((e) => ({ line: tallyLabel(e.draft), qty: e.qty, uom: e.draft.uom, scans: e.scans })) } });
      }
      return effects;
    }
    if (out.type === 'error') return [...effects, { type: 'refused', device: d.name, code: out.code, message: out.message, raw: r.raw, feedback: [d.name] }];
    if (out.uomMismatch) effects.push({ type: 'warning', device: d.name, code: 'SG_WARN_UOM_MISMATCH', message: out.uomMismatch, data: { raw: r.raw }, feedback: [d.name] });
    if (station) {
      const key = out.draft.sku ?? out.draft.gtin ?? out.draft.epc!;
      const evs = station.station.arm({
        key,
        ...(out.item?.unitWeightKg ? { unitWeightKg: out.item.unitWeightKg } : {}),
        ...(out.item?.uom ? { uom: out.item.uom } : {}),
        draft: out.draft,
      });
      if (evs.length) return [...effects, ...this.stationEffects(station, d.name, evs, r.raw)];
      const data: Record<string, unknown> = { station: station.station.name, item: key, kind: out.draft.kind };
      data.countBy = station.station.basisFor(station.station.armedItem!);
      return [...effects, { type: 'event', device: d.name, msg: 'weigh station armed: place the load', data }];
    }
    if (out.draft.kind === 'count') return [...effects, this.tally(name, d.name, out.draft, r.at, [d.name])];
    const m = this.movement(d.name, out.draft, []);
    if (out.converted) m.info = { convertedFrom: `${out.converted.fromQty} kg`, via: out.converted.via, ...(out.converted.rounded ? { rounded: true } : {}) };
    return [...effects, m];
  }

  /** Count mode: add a draft to the session's open count instead of making a movement. */
  private tally(sessionName: string, device: string, draft: MovementDraft, at: number, feedback: string[]): WorkflowEffect {
    const session = this.sessions.get(sessionName)!;
    const r = session.tally.add(draft, at);
    if (!r.ok) return { type: 'refused', device, code: r.code, message: r.message, raw: draft.raw, feedback };
    const entry = this.tallies && session.tally.entry(r.key);
    if (entry) this.tallies!.put(sessionName, entry);
    return { type: 'tallied', device, label: r.label, total: r.total, uom: r.uom, scans: r.scans, qty: draft.qty, raw: draft.raw, feedback };
  }

  private expired(session: string, gone: ExpiredBindings): WorkflowEffect {
    const what = Object.entries(gone).map(([k, v]) => `${k} ${v}`).join(', ');
    const min = this.settings.sessionIdleMin;
    const device = session || 'edge';
    const feedback = this.devices.get(session)?.reads === 'scan' ? [session] : [];
    return { type: 'warning', device, code: 'SG_WARN_SESSION_EXPIRED', message: `${device}: ${what} unbound after ${min} min without a scan: scan them again`, data: { expired: gone, idleMin: min }, feedback };
  }

  // ---- scales ---------------------------------------------------------------------------------

  private weight(d: WorkflowDevice, r: WeightReading): WorkflowEffect[] {
    const st = this.stations.get(d.name);
    if (!st) return [];
    return this.stationEffects(st, d.name, st.station.weight(r), r.raw);
  }

  private stationEffects(st: Station, device: string, evs: StationEvent[], raw: string): WorkflowEffect[] {
    const scale = st.settings?.scale ?? device;
    const both = st.scanner ? [st.scanner, scale] : [scale];
    const out: WorkflowEffect[] = [];
    for (const ev of evs) {
      switch (ev.type) {
        case 'placement': {
          const draft: MovementDraft = { ...ev.draft, device: { id: scale, type: this.devices.get(scale)?.driver ?? 'scale' } };
          const info: Record<string, unknown> = { station: st.station.name, weightKg: ev.weightKg, basis: ev.basis };
          if (ev.apwKg !== undefined) Object.assign(info, { apwKg: ev.apwKg, uncertaintyPieces: ev.uncertaintyPieces });
          // Count mode at a weigh station: each placement adds to the count (a bin weighed at a time).
          if (draft.kind === 'count') out.push(this.tally(this.sessionName(st.scanner), scale, draft, Date.parse(draft.ts), both));
          else out.push({ ...this.movement(scale, draft, both), info, warnings: ev.warnings });
          for (const w of ev.warnings) {
            out.push({ type: 'warning', device: scale, code: `SG_WARN_COUNT_${w.code.toUpperCase().replace(/-/g, '_')}`, message: w.message, data: { station: st.station.name } });
          }
          break;
        }
        case 'sampled':
          out.push({ type: 'event', device: scale, msg: 'weigh station sampled piece weight', data: { station: st.station.name, item: ev.item, pieces: ev.pieces, weightKg: ev.weightKg, apwKg: ev.apwKg } });
          for (const w of ev.warnings) out.push({ type: 'warning', device: scale, code: `SG_WARN_COUNT_${w.code.toUpperCase().replace(/-/g, '_')}`, message: w.message });
          break;
        case 'refused':
          out.push({ type: 'refused', device, code: ev.code, message: ev.message, raw, feedback: both });
          break;
        case 'warning':
          out.push({ type: 'warning', device: scale, code: ev.code, message: ev.message, data: { station: st.station.name } });
          break;
        case 'zeroed':
          out.push({ type: 'event', device: scale, msg: 'scale at zero', data: { station: st.station.name, weightKg: ev.weightKg } });
          break;
      }
    }
    return out;
  }

  // ---- RFID -----------------------------------------------------------------------------------

  private tag(d: WorkflowDevice, r: TagReading): WorkflowEffect[] {
    const reader = this.readers.get(d.name);
    if (!reader) return [];
    const out: WorkflowEffect[] = [];
    for (const ev of reader.tracker.push(r)) out.push(...this.tagEvent(d, reader, ev));
    return out;
  }

  private tagEvent(d: WorkflowDevice, reader: Reader, ev: TagEvent): WorkflowEffect[] {
    const s = reader.settings;
    const session = this.session(s?.scanner);
    let kind: MovementDraft['kind'] | undefined;
    const data: Record<string, unknown> = { epc: ev.epc, event: ev.type };
    if (ev.type === 'passed') {
      Object.assign(data, { direction: ev.direction, antennas: ev.antennas, reads: ev.reads });
      if (ev.direction === 'unknown') {
        return [{ type: 'warning', device: d.name, code: 'SG_WARN_RFID_DIRECTION', message: `tag ${ev.epc} passed the portal without a direction (antennas ${ev.antennas.join(',') || 'none'})`, data }];
      }
      kind = ev.direction === 'in' ? 'receive' : 'issue';
    } else {
      const action = ev.type === 'arrived' ? (s?.arrive ?? 'session') : (s?.depart ?? 'none');
      if (ev.type === 'departed') data.reads = ev.reads;
      kind = action === 'none' ? undefined : action === 'session' ? session.context.mode : action;
    }
    if (!kind) return [{ type: 'event', device: d.name, msg: `tag ${ev.type}`, data }];
    const draft: MovementDraft = {
      ts: new Date(ev.at).toISOString(),
      location: s?.location ?? session.context.location,
      kind,
      epc: ev.epc,
      qty: 1,
      uom: 'ea',
      device: { id: d.name, type: d.driver },
      raw: ev.raw,
    };
    const decoded = decodeEpc(ev.epc);
    if (decoded.scheme === 'sgtin-96') {
      draft.gtin = decoded.gtin;
      draft.serial = decoded.serial;
      const item = this.items.byGtin(decoded.gtin);
      draft.sku = item?.sku ?? decoded.gtin;
      if (item?.uom) draft.uom = item.uom;
      data.gtin = decoded.gtin;
    }
    applyContext(draft, session.context);
    // Count mode (a zone arrival in the session's mode): each tag adds one to the count.
    if (draft.kind === 'count') return [this.tally(this.sessionName(s?.scanner), d.name, draft, ev.at, [d.name])];
    return [{ ...this.movement(d.name, draft, [d.name]), info: data }];
  }

  // ---- common ---------------------------------------------------------------------------------

  private movement(device: string, draft: MovementDraft, okFeedback: string[]): Extract<WorkflowEffect, { type: 'movement' }> {
    const e: Extract<WorkflowEffect, { type: 'movement' }> = { type: 'movement', device, draft, okFeedback };
    const identity = identityOf(draft);
    if (identity) {
      e.identity = identity;
      const inStock = this.pending.get(identity) ?? this.identities.inStock(identity);
      if (inStock && (draft.kind === 'receive' || draft.kind === 'return')) e.duplicate = true;
      this.pending.set(identity, inStockAfter(draft));
    }
    return e;
  }
}

function stationOptions(st: StationSettings): ConstructorParameters<typeof WeighStation>[0] {
  const o: ConstructorParameters<typeof WeighStation>[0] = { name: st.name ?? `${st.scanner}+${st.scale}` };
  if (st.divisionKg !== undefined) o.divisionKg = st.divisionKg;
  if (st.zeroBandKg !== undefined) o.zeroBandKg = st.zeroBandKg;
  if (st.stableMs !== undefined) o.stableMs = st.stableMs;
  if (st.capacityKg !== undefined) o.capacityKg = st.capacityKg;
  return o;
}
