import type { CommitInfo } from '../ingest/ingester.js';
import type { CommitResult } from '../store/store.js';
import type { CloudMetrics } from './registry.js';

/**
 * One group commit into the metrics: the commit duration, each message by result, each movement by
 * outcome (`applied` counts exactly the ledger rows inserted and applied, MQTT and REST alike, so
 * it equals the store's `applied`), and device-to-commit latency once per message: that of its
 * first movement not a duplicate (the oldest reading: an edge numbers its readings in order), an
 * upper bound for the rest of the message. Once per message, not per movement: a `Date.parse` and
 * a histogram observe per movement were ~0.3 µs of the ~20 µs CPU a movement costs the cloud at
 * saturation (issue 14 §1), for a figure whose per-message worst case is what an alert reads.
 */
export function observeCommit(m: CloudMetrics, info: CommitInfo, r: CommitResult): void {
  m.commitDuration.observe(info.seconds);
  const now = Date.now();
  info.groups.forEach((g, i) => {
    const b = r.batches[i];
    m.ingestMessages.inc({ result: g.rest ? 'rest' : g.reject ? g.reject.toLowerCase() : g.movements.length ? 'accepted' : 'empty' });
    if (!b) return;
    const fresh = b.applied;
    if (fresh) m.ingestMovements.inc({ result: 'applied' }, fresh);
    if (b.duplicates) m.ingestMovements.inc({ result: 'duplicate' }, b.duplicates);
    if (b.exceptions) m.ingestMovements.inc({ result: 'exception' }, b.exceptions);
    if (b.deadLetterIds.length) {
      m.ingestMovements.inc({ result: 'dead_letter' }, b.deadLetterIds.length);
      m.deadLetters.inc(b.deadLetterIds.length);
    }
    const outcomes = b.outcomes;
    for (let j = 0; j < outcomes.length; j++) {
      if (outcomes[j] === 'duplicate') continue;
      const ts = Date.parse(g.movements[j]?.ts ?? '');
      // A clock ahead of ours would give a negative latency: 0 (the histogram's lowest bucket).
      if (Number.isFinite(ts)) m.deviceToCommit.observe(Math.max(0, (now - ts) / 1000));
      break;
    }
  });
}
