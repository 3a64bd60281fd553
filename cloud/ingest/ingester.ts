import type { Logger } from 'pino';
import {
  Movement,
  MovementBatch,
  SCHEMA_VERSION,
  describeIssue,
  parseEdgeTopic,
  signAck,
  signReject,
  toRanges,
  topics,
  type Ack,
  type Reject,
  type RejectReason,
} from '../../protocols/mqtt/index.js';
import type { Bus } from '../broker/bus.js';
import type { CommitBatch, CommitBatchResult, CommitResult, DeadLetterInput, Store } from '../store/store.js';

export interface IngesterOptions {
  /** Largest payload accepted, bytes. Default 4 MiB (1000 movements with long raw frames). */
  maxPayloadBytes?: number;
  /** Most movements in one group commit. Default 5000. */
  maxGroup?: number;
  /** Called after each commit with the (site, sku) pairs that changed (live boards). */
  onCommit?: (result: CommitResult, info: CommitInfo) => void;
  /**
   * The edge's ack key (cloud/auth/ack-keys.ts): acks and rejects are signed with it
   * (protocols/mqtt/ack-signature.ts); undefined = published unsigned.
   */
  ackKey?: (site: string, edge: string) => Promise<Buffer | undefined>;
}

/** What a commit carried, for metrics (cloud/metrics/): duration and each message's share. */
export interface CommitInfo {
  seconds: number;
  groups: Array<{ movements: readonly Movement[]; rest: boolean; reject?: RejectReason | undefined; deadLetters: number }>;
}

interface Pending {
  site: string;
  edge: string;
  batch: CommitBatch;
  /** Seqs of the valid and the dead-lettered movements: all of them are acked after commit. */
  seqs: number[];
  /** Rejected movements, reported before the ack. */
  reject?: { reason: RejectReason; message: string; seqs: number[]; ids: string[] };
  /** Resolves with this batch's result after the commit (REST submissions). */
  done?: (r: CommitBatchResult) => void;
  failed?: (err: Error) => void;
}

/**
 * Cloud ingestion, steps 3 and 4 of the reliability protocol:
 * - every payload is validated with zod safeParse; what fails goes to the dead-letter table with a
 *   reason, and the edge gets a reject naming the movements (so it stops resending them);
 * - valid movements from many messages are applied in one transaction (group commit);
 * - only after that commit are the acks published.
 * A crash before the commit loses nothing: no ack went out, so the edge resends.
 */
export class Ingester {
  private queue: Pending[] = [];
  private queued = 0;
  private flushing = false;
  private scheduled = false;
  private readonly o: Required<Omit<IngesterOptions, 'onCommit' | 'ackKey'>> & Pick<IngesterOptions, 'onCommit' | 'ackKey'>;
  readonly stats = { messages: 0, applied: 0, duplicates: 0, exceptions: 0, deadLetters: 0, commits: 0 };

  constructor(
    private readonly bus: Bus,
    private readonly store: Store,
    private readonly log: Logger,
    opts: IngesterOptions = {},
  ) {
    this.o = { maxPayloadBytes: 4 * 1024 * 1024, maxGroup: 5000, ...opts };
  }

  /** Subscribe to movements on the given filters (all sites by default). */
  async start(filters: string[]): Promise<void> {
    for (const f of filters) await this.bus.subscribe(f, (topic, payload) => this.onMessage(topic, payload));
  }

  /** Validate one message and queue it for the next group commit. Never throws. */
  onMessage(topic: string, payload: Buffer): void {
    this.stats.messages++;
    const t = parseEdgeTopic(topic);
    if (!t || t.channel !== 'movements') {
      this.deadLetterOnly({ topic, reason: 'INVALID_SCHEMA', message: `topic: '${topic}' is not stockgate/v1/{site}/{edge}/movements`, payload: safeText(payload) });
      return;
    }
    const { site, edge } = t;
    const fail = (reason: RejectReason, message: string, seqs: number[] = [], ids: string[] = []) =>
      this.enqueue({
        site,
        edge,
        batch: { movements: [], deadLetters: [{ topic, site, edge, reason, message, payload: safeText(payload) }] },
        seqs,
        reject: { reason, message, seqs, ids },
      });

    if (payload.length > this.o.maxPayloadBytes) return fail('TOO_LARGE', `payload: ${payload.length} bytes exceeds ${this.o.maxPayloadBytes}`);
    let body: unknown;
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch (err) {
      return fail('INVALID_JSON', `payload: not JSON (${(err as Error).message})`);
    }
    const env = MovementBatch.safeParse(body);
    if (!env.success) {
      const { seqs, ids } = salvageIds(body, site, edge);
      const v = (body as { v?: unknown } | null)?.v;
      if (v !== undefined && v !== SCHEMA_VERSION) return fail('UNSUPPORTED_VERSION', `v: ${JSON.stringify(v)} is not ${SCHEMA_VERSION}`, seqs, ids);
      return fail('INVALID_SCHEMA', describeIssue(env.error), seqs, ids);
    }
    if (env.data.site !== site || env.data.edge !== edge) {
      const { seqs, ids } = salvageIds(body, site, edge);
      return fail('TOPIC_MISMATCH', `site/edge: payload says ${env.data.site}/${env.data.edge}, topic says ${site}/${edge}`, seqs, ids);
    }

    const valid: Movement[] = [];
    const seqs: number[] = [];
    const dead: DeadLetterInput[] = [];
    const bad = { seqs: [] as number[], ids: [] as string[], first: undefined as undefined | { reason: RejectReason; message: string } };
    for (const [i, raw] of env.data.movements.entries()) {
      const r = Movement.safeParse(raw);
      let reason: RejectReason | undefined;
      let message = '';
      if (!r.success) {
        reason = (raw as { v?: unknown })?.v !== undefined && (raw as { v?: unknown }).v !== SCHEMA_VERSION ? 'UNSUPPORTED_VERSION' : 'INVALID_SCHEMA';
        // Name the movement too: `movements[3].qty: more than 3 decimals`.
        message = `movements[${i}].${describeIssue(r.error)}`;
      } else if (r.data.site !== site || r.data.edge !== edge) {
        reason = 'TOPIC_MISMATCH';
        message = `site/edge: movement says ${r.data.site}/${r.data.edge}, topic says ${site}/${edge}`;
      }
      if (reason === undefined && r.success) {
        valid.push(r.data);
        seqs.push(r.data.seq);
        continue;
      }
      const s = salvageOne(raw, site, edge);
      if (s.seq !== undefined) (seqs.push(s.seq), bad.seqs.push(s.seq));
      if (s.id !== undefined) bad.ids.push(s.id);
      bad.first ??= { reason: reason!, message };
      dead.push({ topic, site, edge, reason: reason!, message, payload: JSON.stringify(raw) });
    }
    const p: Pending = { site, edge, batch: { movements: valid, deadLetters: dead }, seqs };
    if (bad.first) p.reject = { ...bad.first, seqs: bad.seqs, ids: bad.ids };
    this.enqueue(p);
  }

  /**
   * Apply movements that did not come over MQTT (REST/ERP entry) through the same group commit,
   * so they share its idempotency, exceptions and live-board/alert hooks. Resolves after commit.
   */
  submit(movements: Movement[]): Promise<CommitBatchResult> {
    return new Promise((resolve, reject) => {
      this.enqueue({ site: '', edge: '', batch: { movements, deadLetters: [] }, seqs: [], done: resolve, failed: reject });
    });
  }

  /** Wait until everything queued so far is committed and acked (tests, shutdown). */
  async drain(): Promise<void> {
    while (this.queue.length || this.flushing) await new Promise((r) => setTimeout(r, 5));
  }

  /** Run `sign` with the edge's ack key when it has one (no key: the message goes unsigned). */
  private async signed(site: string, edge: string, sign: (key: Buffer) => void): Promise<void> {
    const key = this.o.ackKey ? await this.o.ackKey(site, edge) : undefined;
    if (key) sign(key);
  }

  private deadLetterOnly(d: DeadLetterInput): void {
    this.enqueue({ site: '', edge: '', batch: { movements: [], deadLetters: [d] }, seqs: [] });
  }

  private enqueue(p: Pending): void {
    this.queue.push(p);
    this.queued += p.batch.movements.length + p.batch.deadLetters.length;
    if (!this.scheduled && !this.flushing) {
      this.scheduled = true;
      // setImmediate lets every message already read from the sockets join this group commit.
      setImmediate(() => void this.flush());
    }
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queue.length) {
        const group: Pending[] = [];
        let n = 0;
        while (this.queue.length && (group.length === 0 || n + this.queue[0]!.batch.movements.length <= this.o.maxGroup)) {
          const p = this.queue.shift()!;
          n += p.batch.movements.length + p.batch.deadLetters.length;
          group.push(p);
        }
        this.queued -= n;
        let result: CommitResult;
        const t0 = performance.now();
        try {
          result = await this.store.commit(group.map((g) => g.batch));
        } catch (err) {
          // Nothing is acked, so the edges will resend; keep the service up.
          this.log.error({ err: (err as Error).message, batches: group.length }, 'commit failed; edges will resend');
          for (const g of group) g.failed?.(err as Error);
          continue;
        }
        this.stats.commits++;
        const at = new Date().toISOString();
        group.forEach((g, i) => {
          const r = result.batches[i]!;
          this.stats.applied += r.applied;
          this.stats.duplicates += r.duplicates;
          this.stats.deadLetters += r.deadLetterIds.length;
          this.stats.exceptions += r.exceptions;
          g.done?.(r);
          if (!g.edge) return;
          if (g.reject) {
            const rej: Reject = { v: SCHEMA_VERSION, edge: g.edge, reason: g.reject.reason, message: g.reject.message, at };
            if (g.reject.seqs.length) rej.ranges = toRanges(g.reject.seqs);
            if (g.reject.ids.length) rej.ids = g.reject.ids;
            if (r.deadLetterIds.length) rej.deadLetterId = r.deadLetterIds[0]!;
            this.log.warn({ site: g.site, edge: g.edge, reason: rej.reason, message: rej.message }, 'rejected movements (dead-lettered)');
            void this.signed(g.site, g.edge, (key) => (rej.sig = signReject(key, g.site, rej))).then(() => this.bus.publish(topics.rejects(g.site, g.edge), JSON.stringify(rej))).catch(() => undefined);
          }
          if (g.seqs.length) {
            const ack: Ack = { v: SCHEMA_VERSION, edge: g.edge, ranges: toRanges(g.seqs), duplicates: r.duplicates, at };
            if (r.missing.length) {
              ack.missing = r.missing;
              this.log.warn({ site: g.site, edge: g.edge, missing: r.missing }, 'seq gap: asking the edge to resend');
            }
            void this.signed(g.site, g.edge, (key) => (ack.sig = signAck(key, g.site, ack))).then(() => this.bus.publish(topics.acks(g.site, g.edge), JSON.stringify(ack))).catch(() => undefined);
          }
        });
        this.o.onCommit?.(result, {
          seconds: (performance.now() - t0) / 1000,
          groups: group.map((g) => ({ movements: g.batch.movements, rest: g.done !== undefined, reject: g.reject?.reason ?? g.batch.deadLetters[0]?.reason, deadLetters: g.batch.deadLetters.length })),
        });
      }
    } finally {
      this.flushing = false;
    }
  }
}

function safeText(payload: Buffer): string {
  // Keep the bytes recoverable: invalid UTF-8 is stored as base64 rather than mangled.
  const s = payload.toString('utf8');
  return Buffer.from(s, 'utf8').equals(payload) ? s : `base64:${payload.toString('base64')}`;
}

/** Seq and id of one movement-shaped value, if readable and belonging to this edge. */
function salvageOne(raw: unknown, site: string, edge: string): { seq?: number; id?: string } {
  const o = raw as { seq?: unknown; id?: unknown; site?: unknown; edge?: unknown } | null;
  if (!o || typeof o !== 'object') return {};
  // A movement claiming another edge's identity must not make us ack that edge's seqs.
  if ((o.site !== undefined && o.site !== site) || (o.edge !== undefined && o.edge !== edge)) return {};
  const out: { seq?: number; id?: string } = {};
  if (typeof o.seq === 'number' && Number.isSafeInteger(o.seq) && o.seq > 0) out.seq = o.seq;
  if (typeof o.id === 'string' && o.id.length <= 64) out.id = o.id;
  return out;
}

function salvageIds(body: unknown, site: string, edge: string): { seqs: number[]; ids: string[] } {
  const list = (body as { movements?: unknown } | null)?.movements;
  const seqs: number[] = [];
  const ids: string[] = [];
  if (Array.isArray(list)) {
    for (const m of list.slice(0, 1000)) {
      const s = salvageOne(m, site, edge);
      if (s.seq !== undefined) seqs.push(s.seq);
      if (s.id !== undefined) ids.push(s.id);
    }
  }
  return { seqs, ids };
}
