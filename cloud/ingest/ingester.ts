/*
 * Why one file (over 400 lines): the ingester is the hot path: one queue, group commit, acks and
 * rejects after the commit; its pieces share the pending queue and the commit timing that bench/
 * measures, and keeping them in one file keeps that path readable end to end.
 */
import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import {
  fastMovement,
  fastMovementBatch,
  fastMovementRowsBatch,
  guardJson,
  Movement,
  MovementBatch,
  MovementRowsBatch,
  ROWS_BATCH_VERSION,
  BATCH_VERSIONS,
  rowsAsVersion1,
  SCHEMA_VERSION,
  describeIssue,
  parseEdgeTopic,
  signAck,
  signReject,
  toRanges,
  topics,
  type Ack,
  type MovementBatchEnvelope,
  type Reject,
  type RejectReason,
} from '../../protocols/mqtt/index.js';
import type { Bus } from '../broker/bus.js';
import { Errors } from '../errors.js';
import type { CommitBatch, CommitBatchResult, CommitResult, DeadLetterInput, Store } from '../store/store.js';

export interface IngesterOptions {
  /**
   * Largest payload accepted, bytes, checked before any parsing. Default 1 MiB, the embedded
   * broker's `--max-packet-bytes` default (the edge keeps its batches below it).
   */
  maxPayloadBytes?: number;
  /** Most movements in one group commit. Default 5000. */
  maxGroup?: number;
  /**
   * The bound on one edge's movements read and waiting for a commit (about 0.5 KB of memory
   * each). Past it the bus reads nothing more from that edge's topic until its share of the queue
   * is down to half (`SubscribeOptions.backpressure`: the embedded broker pauses the client, TCP
   * pushes back). An edge at the defaults has at most window x batch = 8 x 500 = 4,000 in flight,
   * at most 256 x 1,000 at the edge's limits (then it is slowed, nothing is lost). Without a bound
   * one client publishing QoS 1 batches without waiting for acks grew the cloud by about 190 MB
   * per 500,000 movements. Default 20,000.
   */
  maxQueuedPerEdge?: number;
  /**
   * The same bound on all edges together, past which every publisher of movements is paused
   * until the queue is down to half (many clients flooding at once). 200 edges at the defaults
   * have at most 800,000 in flight. Default 400,000.
   */
  maxQueuedMovements?: number;
  /** Dead letters stored per edge per second, sustained (token bucket; burst 10x). Default 20. */
  deadLetterRatePerSec?: number;
  /** Dead letters kept per site (oldest pruned first). Default 5000. */
  deadLetterMaxPerSite?: number;
  /** Bytes of dead letters (payload prefix + message) kept per site (oldest pruned first). Default 2 MiB. */
  deadLetterMaxBytesPerSite?: number;
  /** Called after each commit with the (site, sku) pairs that changed (live boards). */
  onCommit?: (result: CommitResult, info: CommitInfo) => void;
  /**
   * The edge's ack key (cloud/auth/ack-keys.ts): acks and rejects are signed with it
   * (protocols/mqtt/ack-signature.ts); undefined = published unsigned.
   */
  ackKey?: (site: string, edge: string) => Promise<Buffer | undefined>;
  /**
   * Read the rows form of a batch (version 2, protocols/mqtt/movement-rows.ts) and offer it to the
   * edges that ask. Default true; false answers version 2 with `UNSUPPORTED_VERSION`, as a cloud
   * built before it does (tests of that fallback).
   */
  readRows?: boolean;
}

/** What a commit carried, for metrics (cloud/metrics/): duration and each message's share. */
export interface CommitInfo {
  seconds: number;
  groups: Array<{ movements: readonly Movement[]; rest: boolean; reject?: RejectReason | undefined; deadLetters: number }>;
}

/** Bytes of a refused payload kept in its dead letter (with the SHA-256 and size of the whole). */
export const DEAD_LETTER_PREFIX_BYTES = 512;

/**
 * Called once a message is settled: `true` after its share of the group commit is durable (or it
 * was refused for good), `false` when the commit failed. The external broker sends the PUBACK on
 * `true` only, so a killed or failing ingester gets the message redelivered.
 */
export type Settle = (ok: boolean) => void;

interface Pending {
  /** The topic it came on (the per-edge bound's key); '' for REST submissions. */
  topic: string;
  site: string;
  edge: string;
  batch: CommitBatch;
  /** Seqs of the valid and the dead-lettered movements: all of them are acked after commit. */
  seqs: number[];
  /** The edge asked which batch versions this cloud reads (`batchVersions` in its batch): its ack says. */
  offerVersions?: boolean;
  /** Rejected movements, reported before the ack. */
  reject?: { reason: RejectReason; message: string; seqs: number[]; ids: string[] };
  /** Resolves with this batch's result after the commit (REST submissions). */
  done?: (r: CommitBatchResult) => void;
  failed?: (err: Error) => void;
  settle?: Settle | undefined;
}

interface Release {
  promise: Promise<void>;
  resolve: () => void;
}

function release(): Release {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * Cloud ingestion, steps 3 and 4 of the reliability protocol:
 * - every message is handled in its own failure boundary (issue 8, finding 1): nothing in one
 *   message can throw out of `onMessage`;
 * - before any parsing, size, UTF-8 and JSON depth are checked on the bytes (`guardJson`), then
 *   the envelope and each movement are validated by the compiled fast path, and by zod safeParse
 *   when it declines (so a refusal names the field exactly as zod does); what fails goes to the
 *   dead-letter table with a reason (a bounded prefix of the bytes received plus their SHA-256 and
 *   size, never a re-serialisation), and the edge gets a reject naming the movements (so it stops
 *   resending them). Dead-lettering is rate-limited per edge and pruned per site (finding 5);
 * - valid movements from many messages are applied in one transaction (group commit);
 * - only after that commit are the acks published (and the broker's PUBACK sent, see `Settle`).
 * A crash before the commit loses nothing: no ack went out, so the edge resends.
 */
export class Ingester {
  private queue: Pending[] = [];
  private queued = 0;
  /** Movements queued per topic (= per edge), for `maxQueuedPerEdge`; a topic leaves at 0. */
  private readonly queuedBy = new Map<string, number>();
  /** Publishers held back, released at half the bound: per topic, and for the whole queue. */
  private readonly heldBy = new Map<string, Release>();
  private heldAll: Release | undefined;
  private flushing = false;
  private scheduled = false;
  private readonly o: Required<Omit<IngesterOptions, 'onCommit' | 'ackKey'>> & Pick<IngesterOptions, 'onCommit' | 'ackKey'>;
  private readonly dlBuckets = new Map<string, { tokens: number; at: number; warnedAt: number }>();
  private readonly prunePending = new Set<string>();
  private lastPrune = 0;
  private pruning = false;
  private pruneTimer: NodeJS.Timeout | undefined;
  readonly stats = {
    messages: 0,
    applied: 0,
    duplicates: 0,
    exceptions: 0,
    deadLetters: 0,
    commits: 0,
    /** Refused movements/messages not stored as dead letters: over the per-edge rate (still rejected to the edge). */
    deadLettersSuppressed: 0,
    /** Dead letters deleted by the per-site bounds. */
    deadLettersPruned: 0,
    /** Messages whose handling threw (a bug, contained by the failure boundary). */
    poisoned: 0,
    /** Most movements ever queued for a commit (bounded by `maxQueuedMovements` plus what was read with the last one). */
    queuedPeak: 0,
    /** Times a publisher was paused (its next messages left in its socket): its edge over `maxQueuedPerEdge`. */
    heldBackEdge: 0,
    /** Times a publisher was paused because the whole queue was over `maxQueuedMovements`. */
    heldBackAll: 0,
    /** REST submissions refused (503) because the whole queue was over `maxQueuedMovements`. */
    refusedQueueFull: 0,
  };

  constructor(
    private readonly bus: Bus,
    private readonly store: Store,
    private readonly log: Logger,
    opts: IngesterOptions = {},
  ) {
    this.o = {
      maxPayloadBytes: 1024 * 1024,
      maxGroup: 5000,
      maxQueuedPerEdge: 20_000,
      maxQueuedMovements: 400_000,
      deadLetterRatePerSec: 20,
      deadLetterMaxPerSite: 5000,
      deadLetterMaxBytesPerSite: 2 * 1024 * 1024,
      readRows: true,
      ...opts,
    };
  }

  /** Subscribe to movements on the given filters (all sites by default). */
  async start(filters: string[]): Promise<void> {
    for (const f of filters) await this.bus.subscribe(f, (topic, payload, settle) => this.onMessage(topic, payload, settle), { backpressure: this.backpressure });
  }

  /** Validate one message and queue it for the next group commit. Never throws. */
  onMessage(topic: string, payload: Buffer, settle?: Settle): void {
    this.stats.messages++;
    try {
      this.handle(topic, payload, settle);
    } catch (err) {
      // The failure boundary: a bug in validation must cost this one message, not the process.
      this.stats.poisoned++;
      try {
        this.log.error({ topic: String(topic).slice(0, 256), bytes: (payload as { length?: unknown } | null)?.length, err: String((err as Error)?.message) }, 'message handling failed; message dropped');
      } finally {
        settle?.(true);
      }
    }
  }

  private handle(topic: string, payload: Buffer, settle: Settle | undefined): void {
    const t = parseEdgeTopic(topic);
    if (!t || t.channel !== 'movements') {
      const d = this.deadLetter(topic.slice(0, 256), '', '', 'INVALID_SCHEMA', `topic: '${topic.slice(0, 200)}' is not stockgate/v1/{site}/{edge}/movements`, payload);
      this.enqueue({ topic, site: '', edge: '', batch: { movements: [], deadLetters: d ? [d] : [] }, seqs: [], settle });
      return;
    }
    const { site, edge } = t;

    // Size, UTF-8 and depth on the bytes, before JSON.parse and before anything re-reads the value.
    const refused = guardJson(payload, this.o.maxPayloadBytes);
    if (refused) return this.refuse(topic, site, edge, payload, settle, refused.reason, refused.message);
    let body: unknown;
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch (err) {
      return this.refuse(topic, site, edge, payload, settle, 'INVALID_JSON', `payload: not JSON (${(err as Error).message.slice(0, 200)})`);
    }
    // The rows form (version 2) is rebuilt into version 1 movement objects, each validated below
    // exactly as a version 1 movement; its refusals say `rows[i]` where version 1 says `movements[i]`.
    let label = 'movements';
    let rowProblems: Array<string | undefined> | undefined;
    let envelope: MovementBatchEnvelope | undefined;
    if (this.o.readRows && (body as { v?: unknown } | null)?.v === ROWS_BATCH_VERSION) {
      let rows = fastMovementRowsBatch(body);
      if (rows === undefined) {
        const r = MovementRowsBatch.safeParse(body);
        // No seqs named: the edge keeps them and resends them as version 1 (edge/publisher.ts).
        if (!r.success) return this.refuse(topic, site, edge, payload, settle, 'INVALID_SCHEMA', describeIssue(r.error));
        rows = r.data as MovementRowsBatch;
      }
      ({ envelope, problems: rowProblems } = rowsAsVersion1(rows));
      label = 'rows';
      body = envelope; // what a refusal below salvages seqs and ids from
    } else {
      // The compiled fast path first (protocols/mqtt/movement-fast.ts: zod's exact output or
      // undefined); zod only when it declines, so refusals keep zod's messages naming the field.
      envelope = fastMovementBatch(body);
    }
    if (envelope === undefined) {
      const env = MovementBatch.safeParse(body);
      if (!env.success) {
        const { seqs, ids } = salvageIds(body, site, edge);
        const v = (body as { v?: unknown } | null)?.v;
        if (v !== undefined && v !== SCHEMA_VERSION)
          return this.refuse(topic, site, edge, payload, settle, 'UNSUPPORTED_VERSION', `v: ${typeof v === 'number' ? v : typeof v} is not ${SCHEMA_VERSION}`, seqs, ids);
        return this.refuse(topic, site, edge, payload, settle, 'INVALID_SCHEMA', describeIssue(env.error), seqs, ids);
      }
      envelope = env.data;
    }
    if (envelope.site !== site || envelope.edge !== edge) {
      const { seqs, ids } = salvageIds(body, site, edge);
      return this.refuse(topic, site, edge, payload, settle, 'TOPIC_MISMATCH', `site/edge: payload says ${envelope.site}/${envelope.edge}, topic says ${site}/${edge}`, seqs, ids);
    }

    const list = envelope.movements;
    const valid: Movement[] = [];
    const seqs: number[] = [];
    const dead: DeadLetterInput[] = [];
    const bad = { seqs: [] as number[], ids: [] as string[], first: undefined as undefined | { reason: RejectReason; message: string } };
    for (let i = 0; i < list.length; i++) {
      const raw = list[i];
      const shape = rowProblems?.[i];
      // The topic's site and edge passed parseEdgeTopic's checks: a movement carrying them needs no pattern test.
      const fast = shape === undefined ? fastMovement(raw, t) : undefined;
      if (fast !== undefined && fast.site === site && fast.edge === edge) {
        valid.push(fast);
        seqs.push(fast.seq);
        continue;
      }
      const r = Movement.safeParse(raw);
      let reason: RejectReason | undefined;
      let message = '';
      if (shape !== undefined) {
        reason = 'INVALID_SCHEMA';
        message = shape;
      } else if (!r.success) {
        reason = (raw as { v?: unknown })?.v !== undefined && (raw as { v?: unknown }).v !== SCHEMA_VERSION ? 'UNSUPPORTED_VERSION' : 'INVALID_SCHEMA';
        // Name the movement too: `movements[3].qty: more than 3 decimals`.
        message = `${label}[${i}].${describeIssue(r.error)}`;
      } else if (r.data.site !== site || r.data.edge !== edge) {
        reason = 'TOPIC_MISMATCH';
        message = `${label}[${i}]: site/edge: movement says ${r.data.site}/${r.data.edge}, topic says ${site}/${edge}`;
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
      const d = this.deadLetter(topic, site, edge, reason!, message, payload);
      if (d) dead.push(d);
    }
    const p: Pending = { topic, site, edge, batch: { movements: valid, deadLetters: dead }, seqs, settle };
    if (this.o.readRows && envelope.batchVersions?.includes(ROWS_BATCH_VERSION)) p.offerVersions = true;
    if (bad.first) p.reject = { ...bad.first, seqs: bad.seqs, ids: bad.ids };
    // The edge drops what is rejected: seq tracking must not wait for those seqs (CommitBatch.refused).
    if (bad.seqs.length) p.batch.refused = { site, edge, seqs: bad.seqs };
    this.enqueue(p);
  }

  /** The whole message refused: its dead letter, and a reject naming the salvaged seqs and ids. */
  private refuse(
    topic: string,
    site: string,
    edge: string,
    payload: Buffer,
    settle: Settle | undefined,
    reason: RejectReason,
    message: string,
    seqs: number[] = [],
    ids: string[] = [],
  ): void {
    const d = this.deadLetter(topic, site, edge, reason, message, payload);
    const batch: CommitBatch = { movements: [], deadLetters: d ? [d] : [] };
    if (seqs.length) batch.refused = { site, edge, seqs };
    this.enqueue({ topic, site, edge, batch, seqs, reject: { reason, message, seqs, ids }, settle });
  }

  /**
   * A dead letter for `bytes` as received: a prefix of at most DEAD_LETTER_PREFIX_BYTES, their
   * SHA-256 and size (finding 1: never a re-serialisation of the parsed value; finding 5: never the
   * whole payload). Undefined when the edge is over its dead-letter rate: the refusal is then only
   * counted (the reject still reaches the edge).
   */
  private deadLetter(topic: string, site: string, edge: string, reason: RejectReason, message: string, bytes: Buffer): DeadLetterInput | undefined {
    if (!this.takeDeadLetterToken(site, edge)) return undefined;
    this.prunePending.add(site);
    const d: DeadLetterInput = { topic, reason, message: message.slice(0, 1000), payload: prefixText(bytes, DEAD_LETTER_PREFIX_BYTES), sha256: sha256(bytes), bytes: bytes.length };
    if (site) d.site = site;
    if (edge) d.edge = edge;
    return d;
  }

  private takeDeadLetterToken(site: string, edge: string): boolean {
    const key = `${site}/${edge}`;
    const now = Date.now();
    const rate = this.o.deadLetterRatePerSec;
    const burst = rate * 10;
    let b = this.dlBuckets.get(key);
    if (!b) {
      // Bounded: in --insecure mode anyone can invent edges; forgetting a bucket only refills it.
      if (this.dlBuckets.size >= 10_000) this.dlBuckets.clear();
      b = { tokens: burst, at: now, warnedAt: 0 };
      this.dlBuckets.set(key, b);
    }
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens--;
      return true;
    }
    this.stats.deadLettersSuppressed++;
    if (now - b.warnedAt > 60_000) {
      b.warnedAt = now;
      this.log.warn({ site, edge, ratePerSec: rate, suppressed: this.stats.deadLettersSuppressed }, 'dead-letter rate exceeded: further refusals from this edge are counted, not stored');
    }
    return false;
  }

  /**
   * Apply movements that did not come over MQTT (REST/ERP entry) through the same group commit,
   * so they share its idempotency, exceptions and live-board/alert hooks. Resolves after commit.
   */
  submit(movements: Movement[], postedBy?: { tokenId: string; user: string }): Promise<CommitBatchResult> {
    // The REST door's share of the queue's bound: a poster cannot be paused like an MQTT client,
    // so past `maxQueuedMovements` it is refused before anything is queued (HTTP 503) and retries.
    if (this.queued >= this.o.maxQueuedMovements) {
      this.stats.refusedQueueFull++;
      return Promise.reject(new Errors.Unavailable(`movements: the ingest queue is full (${this.queued} movements waiting for a commit, bound ${this.o.maxQueuedMovements}: --max-queued); nothing was applied, retry`));
    }
    return new Promise((resolve, reject) => {
      this.enqueue({ topic: '', site: '', edge: '', batch: { movements, deadLetters: [], ...(postedBy ? { postedBy } : {}) }, seqs: [], done: resolve, failed: reject });
    });
  }

  /** Movements read and waiting for a commit now (metrics). */
  get queuedMovements(): number {
    return this.queued;
  }

  /** Wait until everything queued so far is committed and acked (tests, shutdown). */
  async drain(): Promise<void> {
    while (this.queue.length || this.flushing) await new Promise((r) => setTimeout(r, 5));
  }

  /**
   * Flow control (`SubscribeOptions.backpressure`): a promise while the message's edge, or the
   * whole queue, is over its bound; the bus reads nothing more from that publisher until it
   * resolves, at half the bound (`release`). The message itself is already read and goes on.
   */
  private readonly backpressure = (topic: string): Promise<void> | undefined => {
    if ((this.queuedBy.get(topic) ?? 0) >= this.o.maxQueuedPerEdge) {
      this.stats.heldBackEdge++;
      let r = this.heldBy.get(topic);
      if (!r) this.heldBy.set(topic, (r = release()));
      return r.promise;
    }
    if (this.queued >= this.o.maxQueuedMovements) {
      this.stats.heldBackAll++;
      this.heldAll ??= release();
      return this.heldAll.promise;
    }
    return undefined;
  };

  /** `k` movements of `topic` left the queue for a commit: release its publisher at half its bound. */
  private dequeued(topic: string, k: number): void {
    const left = (this.queuedBy.get(topic) ?? 0) - k;
    if (left > 0) this.queuedBy.set(topic, left);
    else this.queuedBy.delete(topic);
    const held = this.heldBy.get(topic);
    if (held && left <= this.o.maxQueuedPerEdge / 2) {
      this.heldBy.delete(topic);
      held.resolve();
    }
  }

  /** Run `sign` with the edge's ack key when it has one (no key: the message goes unsigned). */
  private async signed(site: string, edge: string, sign: (key: Buffer) => void): Promise<void> {
    const key = this.o.ackKey ? await this.o.ackKey(site, edge) : undefined;
    if (key) sign(key);
  }

  private enqueue(p: Pending): void {
    this.queue.push(p);
    const n = p.batch.movements.length + p.batch.deadLetters.length;
    this.queued += n;
    if (this.queued > this.stats.queuedPeak) this.stats.queuedPeak = this.queued;
    if (p.topic) this.queuedBy.set(p.topic, (this.queuedBy.get(p.topic) ?? 0) + n);
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
      for (let first = true; this.queue.length; first = false) {
        // Messages queued during the last commit: the next commit waits until that commit's acks
        // are on the sockets. They are published through a promise chain that ends in aedes's
        // setImmediate (lib/client.js deliverQoS), while the SQLite commit runs synchronously:
        // started at once, it went before them and held every ack of the previous group for its
        // whole duration. Two turns of the loop: the first lets the chain run and queue its
        // write, the second runs after that write (and lets the sockets be read meanwhile, so more
        // messages join this group). Never an ack before its commit: only the next one waits.
        if (!first) for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r));
        if (!this.queue.length) break;
        const group: Pending[] = [];
        let n = 0;
        while (this.queue.length && (group.length === 0 || n + this.queue[0]!.batch.movements.length <= this.o.maxGroup)) {
          const p = this.queue.shift()!;
          const k = p.batch.movements.length + p.batch.deadLetters.length;
          n += k;
          group.push(p);
          if (p.topic) this.dequeued(p.topic, k);
        }
        this.queued -= n;
        if (this.heldAll && this.queued <= this.o.maxQueuedMovements / 2) {
          this.heldAll.resolve();
          this.heldAll = undefined;
        }
        let result: CommitResult;
        const t0 = performance.now();
        try {
          result = await this.store.commit(group.map((g) => g.batch));
        } catch (err) {
          // Nothing is acked, so the edges will resend; keep the service up.
          this.log.error({ err: (err as Error).message, batches: group.length }, 'commit failed; edges will resend');
          for (const g of group) {
            g.failed?.(err as Error);
            g.settle?.(false);
          }
          continue;
        }
        this.stats.commits++;
        const at = new Date().toISOString();
        const acks = new Map<string, { site: string; edge: string; seqs: number[][]; duplicates: number; missing: Array<[number, number]>; offer: boolean }>();
        group.forEach((g, i) => {
          const r = result.batches[i]!;
          this.stats.applied += r.applied;
          this.stats.duplicates += r.duplicates;
          this.stats.deadLetters += r.deadLetterIds.length;
          this.stats.exceptions += r.exceptions;
          g.done?.(r);
          g.settle?.(true);
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
            const k = `${g.site}\0${g.edge}`;
            const a = acks.get(k);
            if (!a) acks.set(k, { site: g.site, edge: g.edge, seqs: [g.seqs], duplicates: r.duplicates, missing: r.missing, offer: g.offerVersions === true });
            else {
              a.seqs.push(g.seqs);
              a.duplicates += r.duplicates;
              // The state after this edge's last message of the group: a gap an earlier one
              // left may have been filled by a later one (the store tracks seqs in batch order).
              a.missing = r.missing;
              if (g.offerVersions) a.offer = true;
            }
          }
        });
        // One ack per edge and group commit, whatever the number of its messages in the group:
        // an edge with a full window (8 batches by default) can have all of them in a saturated group, and every ack is a
        // signature, a packet and a socket write here and a verify and a parse on the edge. The
        // contract's ack has always carried a list of ranges (tests/cloud/ingest/ingester.test.ts).
        for (const a of acks.values()) {
          const ack: Ack = { v: SCHEMA_VERSION, edge: a.edge, ranges: toRanges(a.seqs.length === 1 ? a.seqs[0]! : a.seqs.flat()), duplicates: a.duplicates, at };
          if (a.missing.length) {
            ack.missing = a.missing;
            this.log.warn({ site: a.site, edge: a.edge, missing: a.missing }, 'seq gap: asking the edge to resend');
          }
          if (a.offer) ack.batchVersions = [...BATCH_VERSIONS];
          void this.signed(a.site, a.edge, (key) => (ack.sig = signAck(key, a.site, ack))).then(() => this.bus.publish(topics.acks(a.site, a.edge), JSON.stringify(ack))).catch(() => undefined);
        }
        this.o.onCommit?.(result, {
          seconds: (performance.now() - t0) / 1000,
          groups: group.map((g) => ({ movements: g.batch.movements, rest: g.done !== undefined, reject: g.reject?.reason ?? g.batch.deadLetters[0]?.reason, deadLetters: g.batch.deadLetters.length })),
        });
      }
    } finally {
      this.flushing = false;
    }
    this.maybePrune();
  }

  /**
   * Per-site dead-letter bounds (finding 5): at most once a second, for the sites that got dead
   * letters since, the store deletes the oldest beyond the count and byte limits. Off the commit
   * path: a slow prune delays nothing but the next prune.
   */
  private maybePrune(): void {
    if (this.pruning || this.prunePending.size === 0 || Date.now() - this.lastPrune < 1000) {
      if (this.prunePending.size && !this.pruneTimer) {
        this.pruneTimer = setTimeout(() => {
          this.pruneTimer = undefined;
          this.maybePrune();
        }, 1000);
        this.pruneTimer.unref();
      }
      return;
    }
    this.pruning = true;
    this.lastPrune = Date.now();
    const sites = [...this.prunePending];
    this.prunePending.clear();
    void (async () => {
      for (const site of sites) {
        try {
          const n = await this.store.pruneDeadLetters({ site, maxCount: this.o.deadLetterMaxPerSite, maxBytes: this.o.deadLetterMaxBytesPerSite });
          if (n) {
            this.stats.deadLettersPruned += n;
            this.log.info({ site: site || undefined, pruned: n, prunedTotal: this.stats.deadLettersPruned }, 'dead letters pruned (per-site bound)');
          }
        } catch (err) {
          this.log.warn({ site, err: (err as Error).message }, 'dead-letter pruning failed');
        }
      }
    })().finally(() => {
      this.pruning = false;
    });
  }
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/**
 * At most `max` bytes of the payload as text: cut back to a UTF-8 character boundary; bytes that
 * are not UTF-8 (or hold NUL, which no text column takes) are kept as `base64:` instead.
 */
export function prefixText(payload: Buffer, max: number): string {
  let end = Math.min(max, payload.length);
  // Do not split a multi-byte character: back up over continuation bytes (10xxxxxx).
  if (end < payload.length) while (end > 0 && (payload[end]! & 0xc0) === 0x80) end--;
  const head = payload.subarray(0, end);
  return isUtf8(head) && !head.includes(0) ? head.toString('utf8') : `base64:${payload.subarray(0, Math.min(max, payload.length)).toString('base64')}`;
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
