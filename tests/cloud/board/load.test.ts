import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boardLoad } from '../../../bench/board-load.js';
import { startCloudProc, tempDir, uniqueId, type CloudProc } from '../../helpers/procs.js';

/**
 * The board's load acceptance, short (the 60 s run is `npm run bench`, section `board`): 200
 * movements/s for 5 s into one site with one SSE client and one client that never reads. The
 * client sees at most one frame per 250 ms, its final state equals GET /api/v1/stock, and the
 * stalled client does not make the cloud grow.
 */
describe('board under load (short)', () => {
  let cloud: CloudProc;
  beforeAll(async () => {
    cloud = await startCloudProc({ dataDir: join(tempDir(), 'cloud') });
  });
  afterAll(() => cloud?.kill());

  it('200 movements/s: <= 4 frames/s, final state = REST, RSS bounded with a stalled client', async () => {
    const r = await boardLoad({ url: cloud.url, httpPort: cloud.httpPort, mqttUrl: `mqtt://127.0.0.1:${cloud.mqttPort}`, pid: cloud.child.pid!, site: uniqueId('load'), rate: 200, seconds: 5 });
    console.log(`board load (short): ${r.movements} movements in ${r.seconds} s, ${r.frames} frames (${r.framesPerSecond}/s, max ${r.maxFramesInASecond} in a second), RSS ${r.rssStartMb} -> ${r.rssEndMb} MB`);
    expect(r.movements).toBe(1000);
    expect(r.mismatches).toEqual([]);
    expect(r.finalEqualsRest).toBe(true);
    // One frame per 250 ms at most (a slow machine only sends fewer).
    expect(r.frames).toBeLessThanOrEqual(Math.ceil(r.seconds * 4) + 1);
    expect(r.frames).toBeGreaterThan(0);
    expect(r.resyncs).toBe(0);
    expect(r.rssEndMb - r.rssStartMb).toBeLessThan(64);
  });
});
