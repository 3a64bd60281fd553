import { afterEach, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { join } from 'node:path';
import pino from 'pino';
import { EdgeAgent } from '../../edge/agent.js';
import { parseEdgeConfig } from '../../edge/config.js';
import { spawnStockgate, tempDir, uniqueId, waitFor } from '../helpers/procs.js';

/** A TCP port nothing listens on (bound, then closed). */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

const stops: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s().catch(() => undefined);
});

/**
 * Issue 8, finding 12 (first bullet): an edge with an unreachable broker and a missing device
 * printed `ready` and then logged nothing for 12 s at the default level. Now both are `warn`
 * lines at once, with codes, and both are in the status problems.
 */
describe('edge start-up warnings (issue 8, finding 12)', () => {
  it('an in-process agent: warn logs and status problems for an unreachable broker and an absent device', async () => {
    const dir = tempDir();
    const logs: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'info' }, { write: (l: string) => void logs.push(JSON.parse(l) as Record<string, unknown>) });
    const agent = new EdgeAgent(
      parseEdgeConfig({
        dataDir: dir,
        broker: `mqtt://127.0.0.1:${await deadPort()}`,
        site: uniqueId('w'),
        edgeId: 'e1',
        location: 'L',
        devices: [`dock1=scanner@serial://${join(dir, 'no-such-tty')}`],
        telemetryMs: 0,
      }),
      log,
    );
    stops.push(() => agent.stop());
    agent.start();
    await waitFor(() => logs.some((l) => l.code === 'SG_ERR_BROKER_UNREACHABLE') && logs.some((l) => l.code === 'SG_ERR_DEVICE_ABSENT'), 'both warnings');
    for (const code of ['SG_ERR_BROKER_UNREACHABLE', 'SG_ERR_DEVICE_ABSENT']) expect(logs.find((l) => l.code === code)!.level).toBe(40);
    expect(logs.find((l) => l.code === 'SG_ERR_DEVICE_ABSENT')).toMatchObject({ device: 'dock1' });
    expect(agent.problems()).toEqual(expect.arrayContaining(['broker-unreachable', 'device-disconnected:dock1']));
    expect(agent.statusDetails().lastWarning?.code).toMatch(/^SG_ERR_(BROKER_UNREACHABLE|DEVICE_ABSENT)$/);
    // Retrying quietly: the broker warning is not repeated on every attempt.
    await new Promise((r) => setTimeout(r, 1500));
    expect(logs.filter((l) => l.code === 'SG_ERR_BROKER_UNREACHABLE')).toHaveLength(1);
  });

  it('stockgate edge at the default log level: both warnings on stderr right after ready', async () => {
    const dir = tempDir();
    const edge = await spawnStockgate(
      ['edge', '--data-dir', join(dir, 'edge'), '--broker', `mqtt://127.0.0.1:${await deadPort()}`, '--site', uniqueId('w'), '--edge-id', 'e1', '--location', 'L', '--device', `dock1=scanner@serial://${join(dir, 'ttyMissing')}`],
      { env: { STOCKGATE_LOG_LEVEL: '' } },
    );
    stops.push(() => edge.kill());
    await waitFor(() => ['SG_ERR_BROKER_UNREACHABLE', 'SG_ERR_DEVICE_ABSENT'].every((c) => edge.logs.some((l) => l.code === c && l.level === 40)), 'both warnings on stderr', 10_000);
  });
});
