import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BoardCaller } from '../../../protocols/http/board.js';
import { BoardHub, type BoardView } from '../../../cloud/board/hub.js';
import { BoardRepo } from '../../../cloud/board/repo.js';
import { API_EDGE } from '../../../cloud/store/store.js';
import { type ApiCloud, startApiCloud } from '../../helpers/api-cloud.js';
import { movement } from '../../helpers/movements.js';
import { uniqueId } from '../../helpers/procs.js';

/** A repo whose ledger-end reads wait until the test lets them through, and are counted. */
class GatedRepo extends BoardRepo {
  reads = 0;
  private open: Promise<void> = Promise.resolve();
  private release: () => void = () => undefined;
  hold(): void {
    this.open = new Promise((r) => (this.release = r));
  }
  let(): void {
    this.release();
  }
  override async maxPos(): Promise<number> {
    this.reads++;
    await this.open;
    return super.maxPos();
  }
}

/**
 * The hub's position while no board is open (issue 14: a commit then costs no read): commits
 * only mark it behind, and the first snapshot reads the ledger's end once. On a real ledger.
 */
describe('board hub: the ledger end while nobody watches', () => {
  let api: ApiCloud;
  let repo: GatedRepo;
  let hub: BoardHub;
  const site = uniqueId('hp');
  const view: BoardView = { sites: [site] };
  const caller: BoardCaller = { roles: ['admin'], canAck: true, canResolve: true, seesCost: true };

  beforeAll(async () => {
    api = await startApiCloud('sqlite');
    repo = new GatedRepo(api.cloud.db.kysely);
    hub = new BoardHub({ repo, store: api.cloud.store }, { frameMs: 20, pollMs: 3_600_000 });
    await hub.start();
  });
  afterAll(async () => {
    hub?.close();
    await api?.stop();
  });

  it('reads nothing per commit, then gives two snapshots asked at once the same, current end', async () => {
    const startReads = repo.reads;
    for (let i = 0; i < 5; i++) {
      await api.cloud.ingester.submit([movement({ site, edge: API_EDGE, seq: 0, sku: `S-${i}`, qty: 1, kind: 'receive', uom: 'ea', raw: 'x' })]);
      hub.kick();
      await hub.settle();
    }
    expect(repo.reads).toBe(startReads);
    const head = await api.cloud.store.headPos();

    repo.hold();
    const a = hub.snapshot(view, caller);
    const b = hub.snapshot(view, caller);
    repo.let();
    const [sa, sb] = await Promise.all([a, b]);
    expect([sa.pos, sb.pos]).toEqual([head, head]);
    // One read for both.
    expect(repo.reads).toBe(startReads + 1);
    expect(sa.stock.map((r) => r.sku).sort()).toEqual(['S-0', 'S-1', 'S-2', 'S-3', 'S-4']);
  });
});
