import { spawnSync } from 'node:child_process';

/**
 * prom-client's default gauges that `promtool check metrics` flags ("non-counter metrics should not
 * have _total suffix"): their names are prom-client's, kept for dashboard compatibility
 * (siimon/prom-client lib/metrics/processHandles.js, processRequests.js, processResources.js). The
 * only findings a test accepts.
 */
export const PROMTOOL_ALLOWED = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** `promtool check metrics` (Debian `prometheus`) on an exposition; returns the findings not allowed. */
export function promtoolFindings(text: string, bin = process.env.STOCKGATE_TEST_PROMTOOL ?? '/usr/bin/promtool'): string[] {
  const r = spawnSync(bin, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error) throw r.error;
  const out = `${r.stdout}\n${r.stderr}`.split('\n').map((l) => l.trim()).filter(Boolean);
  return out.filter((l) => !PROMTOOL_ALLOWED.some((a) => l.startsWith(`${a} `)));
}
