import type { Logger } from 'pino';
import type { Movement, Reject } from '../protocols/mqtt/index.js';
import type { Device } from '../devices/device.js';
import type { Feedback } from '../devices/driver.js';
import type { EdgeHealth } from './health.js';
import type { IdentityTable } from './identities.js';
import { OutboxFullError, type MovementDraft } from './outbox/outbox-store.js';
import type { SqliteOutbox } from './outbox/sqlite.js';
import type { WorkflowEffect, Workflows } from './workflows.js';

type MovementEffect = Extract<WorkflowEffect, { type: 'movement' }>;

/** Least time between two feedback commands of one kind to one device (a burst of errors beeps once). */
const FEEDBACK_GAP_MS = 250;

/** What the recorder counts (telemetry: `outbox.refused`, `identity.duplicates`, `workflow.*`). */
export interface RecorderCounters {
  recorded: number;
  outboxRefused: number;
  localRefused: number;
  cloudRejected: number;
  duplicates: number;
  warnings: number;
}

export function newCounters(): RecorderCounters {
  return { recorded: 0, outboxRefused: 0, localRefused: 0, cloudRejected: 0, duplicates: 0, warnings: 0 };
}

export interface RecorderDeps {
  /** Shared with the health, which reports them. */
  counters: RecorderCounters;
  log: Logger;
  outbox: SqliteOutbox;
  workflows: Workflows;
  identities: IdentityTable;
  devices: readonly Device[];
  health: EdgeHealth;
  /** New movements are in the outbox: let the uplink send them (`Publisher.kick`). */
  kick(): void;
}

/**
 * Workflow effects -> the outbox -> the operator. Movements made in one event-loop turn (a burst
 * of scans in one serial chunk) are committed in one outbox transaction (group commit), then
 * logged, fed back and handed to the uplink; nothing is sent before its commit.
 *
 * Every refusal reaches the operator three ways (edge/README.md, "Operator feedback"): a log line
 * with its `code`, the status's `lastError`, and an `error` beep/LED on the devices involved where
 * the driver supports one (`Driver.feedback`). That covers local refusals, a full or failing
 * outbox, a duplicate serialised unit, and the cloud's rejects.
 */
export class Recorder {
  readonly counters: RecorderCounters;
  private pending: MovementEffect[] = [];
  private flushScheduled = false;
  private readonly lastFeedback = new Map<string, number>();

  constructor(private readonly d: RecorderDeps) {
    this.counters = d.counters;
  }

  /**
   * Record movements from any source (a test, a bench, a REST bridge) and publish them when
   * possible. Throws OutboxFullError when the outbox bound is reached (nothing stored).
   */
  record(drafts: readonly MovementDraft[]): Movement[] {
    const out = this.d.outbox.append(drafts);
    this.counters.recorded += out.length;
    this.d.kick();
    this.d.health.checkOutbox();
    return out;
  }

  /** What the agent does with workflow effects: movements wait for this turn's group commit. */
  handle(effects: readonly WorkflowEffect[]): void {
    const { log } = this.d;
    for (const e of effects) {
      switch (e.type) {
        case 'movement':
          this.pending.push(e);
          if (!this.flushScheduled) {
            this.flushScheduled = true;
            setImmediate(() => this.flush());
          }
          break;
        case 'control':
          log.info({ device: e.device, control: e.code, context: e.context }, e.say ?? 'scan context changed');
          // A document pinned or cleared (stockgate:po/req/so): the operator hears it took (ok beep).
          if (e.say) this.feedback([e.device], 'ok');
          break;
        case 'tallied':
          // Count mode: the scan is accepted into the open count; the operator hears it (ok beep).
          log.info({ device: e.device, line: e.label, qty: e.qty, total: e.total, uom: e.uom, scans: e.scans, raw: e.raw }, 'count tally');
          this.feedback(e.feedback, 'ok');
          break;
        case 'refused':
          this.counters.localRefused++;
          this.tellOperator(e.feedback, { code: e.code, message: e.message, device: e.device }, { raw: e.raw }, `${this.readsOf(e.device) === 'scan' ? 'scan' : 'reading'} refused: ${e.message}`);
          break;
        case 'warning':
          this.counters.warnings++;
          this.d.health.warning(e.code, e.message, e.device);
          log.warn({ device: e.device, code: e.code, ...e.data }, e.message);
          if (e.feedback?.length) this.feedback(e.feedback, 'error');
          break;
        case 'event':
          log.info({ device: e.device, ...e.data }, e.msg);
          break;
      }
    }
  }

  /** Group commit: every movement made since the last flush, in one outbox transaction. */
  flush(): void {
    this.flushScheduled = false;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    const { log, outbox, workflows, health } = this.d;
    let stored: Movement[];
    try {
      stored = outbox.append(batch.map((e) => e.draft));
    } catch (err) {
      workflows.settle(false); // an ended count whose movements were refused is open again
      if (batch.some((e) => e.draft.kind === 'count' && e.info?.count === 'ended')) {
        log.warn({ code: 'SG_ERR_COUNT_NOT_SENT' }, 'count not sent: it stays open; scan COUNT:END again when the outbox has room');
      }
      const full = err instanceof OutboxFullError;
      health.outboxRefused(full, err as Error);
      this.counters.outboxRefused += batch.length;
      for (const e of batch) {
        const code = full ? 'SG_ERR_OUTBOX_FULL' : 'SG_ERR_OUTBOX_WRITE';
        this.tellOperator([e.device, ...e.okFeedback], { code, message: (err as Error).message, device: e.device }, {
          kind: e.draft.kind,
          sku: e.draft.sku ?? e.draft.gtin ?? e.draft.epc,
          qty: e.draft.qty,
          raw: e.draft.raw,
        }, full ? 'outbox full: movement refused, not recorded (scan it again when the link is back)' : 'outbox write failed: movement not recorded');
      }
      return;
    }
    this.counters.recorded += stored.length;
    health.outboxWritten();
    try {
      this.d.identities.apply(stored);
    } catch (err) {
      log.error({ err: (err as Error).message }, 'identity table update failed (the cloud still checks identities)');
    }
    try {
      workflows.settle(true);
    } catch (err) {
      // state.db failing to forget an ended count: it would be offered again after a restart, never lost.
      log.error({ err: (err as Error).message }, 'count tally update failed');
    }
    stored.forEach((m, i) => {
      const e = batch[i]!;
      log.info({ device: e.device, seq: m.seq, kind: m.kind, sku: m.sku ?? m.gtin ?? m.epc, qty: m.qty, uom: m.uom, ...e.info }, 'movement recorded');
      if (e.duplicate) {
        this.counters.duplicates++;
        const msg = `${e.identity} is already in stock here: ${m.kind} sent for the cloud's exception queue, not counted twice`;
        this.tellOperator([e.device, ...e.okFeedback], { code: 'SG_ERR_DUPLICATE_IDENTITY', message: msg, device: e.device }, { seq: m.seq, identity: e.identity }, msg);
      } else if (e.okFeedback.length) {
        this.feedback(e.okFeedback, 'ok');
      }
    });
    this.d.kick();
    health.checkOutbox();
  }

  /** The cloud rejected movements (publisher `rejected`): tell the operator at the devices that made them. */
  cloudRejected(rej: Reject, moved: number): void {
    this.counters.cloudRejected += moved;
    const devices = new Set<string>();
    const seqs: number[] = [];
    if (moved > 0) {
      for (const e of this.d.outbox.rejected(Math.min(moved, 1000))) {
        seqs.push(e.seq);
        try {
          devices.add((JSON.parse(e.json) as Movement).device.id);
        } catch {
          /* stored JSON is ours; ignore */
        }
      }
    }
    const first = [...devices][0];
    this.tellOperator(
      [...devices],
      { code: `SG_ERR_CLOUD_REJECT_${rej.reason}`, message: rej.message, ...(first ? { device: first } : {}) },
      { reason: rej.reason, message: rej.message, moved, deadLetterId: rej.deadLetterId, seqs: seqs.length ? [Math.min(...seqs), Math.max(...seqs)] : undefined, devices: [...devices] },
      'cloud rejected movements',
    );
  }

  private readsOf(device: string): string | undefined {
    return this.d.devices.find((dev) => dev.name === device)?.driver.profile.reads;
  }

  /** Log line, status `lastError`, and an error beep/LED on the devices that support one. */
  private tellOperator(devices: readonly string[], rep: { code: string; message: string; device?: string }, fields: Record<string, unknown>, msg: string): void {
    this.d.health.error(rep.code, rep.message, rep.device);
    this.d.log.warn({ device: rep.device, code: rep.code, ...fields }, msg);
    this.feedback(devices, 'error');
  }

  private feedback(names: readonly string[], kind: Feedback): void {
    const now = Date.now();
    for (const name of new Set(names)) {
      const dev = this.d.devices.find((x) => x.name === name);
      if (!dev?.driver.feedback) continue;
      const key = `${name}\u0000${kind}`;
      if (now - (this.lastFeedback.get(key) ?? 0) < FEEDBACK_GAP_MS) continue;
      this.lastFeedback.set(key, now);
      dev.feedback(kind).then(
        (sent) => sent && this.d.log.debug({ device: name, feedback: kind }, 'device feedback'),
        (err: Error) => this.d.log.debug({ device: name, err: err.message }, 'device feedback failed'),
      );
    }
  }
}
