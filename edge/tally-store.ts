import type Database from 'better-sqlite3';
import type { TallyEntry, TallyStore } from './count-tally.js';

/**
 * Open counts in `state.db` (table `count_tally`, one row per line), so an edge restarted in the
 * middle of a count (power cut, update) keeps what was counted. A line is written when a scan
 * adds to it (a human pace: one small write per scan); the lines of an ended count are deleted
 * only after its count movements are committed to the outbox, so a crash in between can send a
 * count twice (the same statement, harmless) but never lose it.
 */
export class SqliteTallyStore implements TallyStore {
  private readonly s;
  private readonly replaceTx;

  constructor(db: Database.Database) {
    this.s = {
      all: db.prepare('SELECT session, json FROM count_tally ORDER BY session, rowid'),
      put: db.prepare(`INSERT INTO count_tally (session, key, json, updated_at) VALUES (?, ?, ?, ?)
        ON CONFLICT(session, key) DO UPDATE SET json = excluded.json, updated_at = excluded.updated_at`),
      clear: db.prepare('DELETE FROM count_tally WHERE session = ?'),
    };
    this.replaceTx = db.transaction((session: string, entries: readonly TallyEntry[]) => {
      this.s.clear.run(session);
      for (const e of entries) this.s.put.run(session, e.key, JSON.stringify(e), Date.now());
    });
  }

  load(): Map<string, TallyEntry[]> {
    const out = new Map<string, TallyEntry[]>();
    for (const r of this.s.all.all() as Array<{ session: string; json: string }>) {
      let e: TallyEntry;
      try {
        e = JSON.parse(r.json) as TallyEntry;
      } catch {
        continue; // our own JSON; a torn row cannot happen under WAL, skip rather than stop the agent
      }
      const list = out.get(r.session) ?? [];
      list.push(e);
      out.set(r.session, list);
    }
    return out;
  }

  put(session: string, entry: TallyEntry): void {
    this.s.put.run(session, entry.key, JSON.stringify(entry), Date.now());
  }

  replace(session: string, entries: readonly TallyEntry[]): void {
    this.replaceTx(session, entries);
  }
}
